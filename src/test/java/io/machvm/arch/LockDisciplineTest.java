package io.machvm.arch;

import static com.tngtech.archunit.base.DescribedPredicate.describe;
import static com.tngtech.archunit.core.domain.JavaCall.Predicates.target;
import static com.tngtech.archunit.core.domain.properties.HasName.Predicates.name;
import static com.tngtech.archunit.core.domain.properties.HasOwner.Predicates.With.owner;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaCall;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.junit.jupiter.api.Test;

/**
 * The lock discipline of a call that changes a map is written once: {@code VmMap.changingEvenIfTerminated()} takes
 * the write lock and {@code VmMap.Change.close()} settles the budgets and releases it. Every other call that changes
 * a map (its own methods, fork, image export, restore) goes through that skeleton.
 */
class LockDisciplineTest {
    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.machvm");

    /** The skeleton's two halves, as {@code owner#method}. */
    private static final Set<String> SKELETON = Set.of("io.machvm.vm.VmMap#changingEvenIfTerminated",
            "io.machvm.vm.VmMap$Change#close");

    @Test
    void onlyTheSkeletonTouchesAMapsWriteLock() {
        noClasses().that().resideInAnyPackage("io.machvm.vm..", "io.machvm.service..")
                .should().callMethodWhere(target(owner(JavaClass.Predicates.equivalentTo(
                                ReentrantReadWriteLock.class)))
                        .and(target(name("writeLock")))
                        .and(describe("outside VmMap's skeleton", (JavaCall<?> call) -> !SKELETON.contains(
                                call.getOrigin().getOwner().getName() + "#" + call.getOrigin().getName()))))
                .check(MAIN);
    }
}
