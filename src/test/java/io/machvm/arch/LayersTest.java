package io.machvm.arch;

import static com.tngtech.archunit.base.DescribedPredicate.anyElementThat;
import static com.tngtech.archunit.base.DescribedPredicate.describe;
import static com.tngtech.archunit.core.domain.JavaCall.Predicates.target;
import static com.tngtech.archunit.core.domain.properties.HasName.Predicates.name;
import static com.tngtech.archunit.core.domain.properties.HasOwner.Predicates.With.owner;
import static com.tngtech.archunit.core.domain.properties.HasParameterTypes.Predicates.rawParameterTypes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The layers, as a rule the build checks: {@code store} (pages off the heap) depends on nothing of ours; {@code vm}
 * (Mach address spaces) on {@code store} only, and on no Spring; {@code service} (tasks by id, metrics) on {@code vm}
 * and {@code store}, never on {@code api}; {@code persistence} (the checkpoint log) sits beside {@code service}: it may
 * use {@code service}, {@code vm} and {@code store}, never {@code api}, the configuration nor Spring, and neither
 * {@code vm} nor {@code store} may use it; {@code api} (HTTP) on {@code service} and the value types of {@code vm},
 * never on {@code VmMap}, {@code store} nor {@code persistence}; and no api code runs under a task's lock.
 */
class LayersTest {
    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.machvm");

    @Test
    void theStoreDependsOnNothingOfOurs() {
        noClasses().that().resideInAPackage("io.machvm.store..")
                .should().dependOnClassesThat().resideInAnyPackage("io.machvm.vm..", "io.machvm.service..",
                        "io.machvm.api..", "io.machvm.config..", "io.machvm.ops..", "io.machvm.persistence..",
                        "io.machvm")
                .check(MAIN);
    }

    @Test
    void theVmDependsOnTheStoreOnlyAndOnNoSpring() {
        noClasses().that().resideInAPackage("io.machvm.vm..")
                .should().dependOnClassesThat().resideInAnyPackage("io.machvm.service..", "io.machvm.api..",
                        "io.machvm.config..", "io.machvm.ops..", "io.machvm.persistence..", "org.springframework..",
                        "jakarta..")
                .check(MAIN);
    }

    @Test
    void theServiceNeverDependsOnTheApi() {
        noClasses().that().resideInAPackage("io.machvm.service..")
                .should().dependOnClassesThat().resideInAnyPackage("io.machvm.api..", "io.machvm.config..",
                        "io.machvm.ops..")
                .check(MAIN);
    }

    @Test
    void persistenceSitsBesideTheServiceNeverOnTheApiNorSpring() {
        noClasses().that().resideInAPackage("io.machvm.persistence..")
                .should().dependOnClassesThat().resideInAnyPackage("io.machvm.api..", "io.machvm.config..",
                        "io.machvm.ops..", "org.springframework..", "jakarta..")
                .check(MAIN);
    }

    @Test
    void theApiGoesThroughTheServiceNeverToVmMapOrTheStore() {
        noClasses().that().resideInAPackage("io.machvm.api..")
                .should().dependOnClassesThat().resideInAnyPackage("io.machvm.store..", "io.machvm.persistence..")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("io.machvm.vm.VmMap")
                .check(MAIN);
    }

    /** A parameter through which code is handed over to run later: a functional interface. */
    private static final DescribedPredicate<JavaClass> CALLBACK = describe("a callback", type ->
            type.getPackageName().equals("java.util.function") || type.isEquivalentTo(Runnable.class)
                    || type.isEquivalentTo(java.util.concurrent.Callable.class)
                    || type.isAnnotatedWith(FunctionalInterface.class));

    /**
     * The api hands the service and the vm values, never code to run for it: a callback could run under a task's
     * lock, as a batch's JSON binding and answers once did inside {@code VmService.atomically(task, Supplier)}. The
     * one exception is the region walk, whose sink {@code VmService.walkRegions} calls with the lock released.
     */
    @Test
    void theApiHandsTheServiceAndTheVmNoCode() {
        noClasses().that().resideInAPackage("io.machvm.api..")
                .should().callCodeUnitWhere(target(owner(JavaClass.Predicates.resideInAnyPackage(
                                "io.machvm.service..", "io.machvm.vm..")))
                        .and(target(rawParameterTypes(anyElementThat(CALLBACK))))
                        .and(DescribedPredicate.not(target(name("walkRegions")))))
                .check(MAIN);
    }
}
