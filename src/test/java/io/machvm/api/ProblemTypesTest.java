package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.vm.KernReturn;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Every failing Mach code has a problem type, read from {@code problem-types.properties}. */
class ProblemTypesTest {

    @Test
    void everyFailingCodeHasATypeWithItsStatusTitleAndDocumentation() {
        Arrays.stream(KernReturn.values()).filter(kern -> kern != KernReturn.KERN_SUCCESS).forEach(kern -> {
            ProblemTypes.ProblemType type = ProblemTypes.of(kern);
            assertThat(type.type()).isEqualTo("/problems/" + kern.name());
            assertThat(type.kern()).isEqualTo(kern);
            assertThat(type.status()).as(kern.name()).isBetween(400, 599);
            assertThat(type.title()).as(kern.name()).isNotBlank();
            assertThat(type.description()).as(kern.name()).isNotBlank().doesNotContain("\\", "  ");
        });
    }

    @Test
    void theStatusesAreTheContractsOnes() {
        assertThat(ProblemTypes.status(KernReturn.KERN_INVALID_ADDRESS)).isEqualTo(404);
        assertThat(ProblemTypes.status(KernReturn.KERN_PROTECTION_FAILURE)).isEqualTo(403);
        assertThat(ProblemTypes.status(KernReturn.KERN_NO_SPACE)).isEqualTo(409);
        assertThat(ProblemTypes.status(KernReturn.KERN_INVALID_ARGUMENT)).isEqualTo(400);
        assertThat(ProblemTypes.status(KernReturn.KERN_FAILURE)).isEqualTo(500);
        assertThat(ProblemTypes.status(KernReturn.KERN_RESOURCE_SHORTAGE)).isEqualTo(507);
        assertThat(ProblemTypes.status(KernReturn.KERN_NAME_EXISTS)).isEqualTo(409);
        assertThat(ProblemTypes.status(KernReturn.KERN_NOT_RECEIVER)).isEqualTo(421);
        assertThat(ProblemTypes.status(KernReturn.MACH_SEND_TIMED_OUT)).isEqualTo(503);
        assertThat(ProblemTypes.status(KernReturn.MACH_SEND_INVALID_DEST)).isEqualTo(404);
    }

    @Test
    void successIsNoProblem() {
        assertThatThrownBy(() -> ProblemTypes.of(KernReturn.KERN_SUCCESS)).isInstanceOf(IllegalArgumentException.class);
        assertThat(ProblemTypes.byName("KERN_SUCCESS")).isNull();
        assertThat(ProblemTypes.byName("NO_SUCH_CODE")).isNull();
    }
}
