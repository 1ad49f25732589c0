package io.machvm.api;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import io.machvm.vm.KernReturn;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /problems/{kern}}: what each problem {@code type} means. */
@RestController
@Tag(name = "problems")
public class ProblemTypeController {

    @GetMapping(path = ProblemTypes.TYPE_PREFIX + "{kern}", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "problem_type", summary = "Documents a problem type.",
            description = "The problem type /problems/{kern}: its Mach code, HTTP status, title and when it occurs.")
    @ApiResponse(responseCode = "200", description = "The problem type.",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = Responses.ProblemTypeView.class)))
    @ApiResponse(responseCode = "404", description = "No such problem type (KERN_INVALID_ARGUMENT)",
            content = @Content(mediaType = ProblemWriter.PROBLEM_JSON,
                    schema = @Schema(implementation = Responses.Problem.class)))
    @Problems({})
    @Parameter(name = "kern", in = ParameterIn.PATH, description = "The Mach code name.",
            example = "KERN_PROTECTION_FAILURE")
    public Responses.ProblemTypeView problemType(
            @PathVariable String kern) {
        ProblemTypes.ProblemType type = ProblemTypes.byName(kern);
        if (type == null) {
            throw new ApiProblem(404, KernReturn.KERN_INVALID_ARGUMENT, "no problem type " + Texts.quote(kern)
                    + ": the types are the failing Mach codes, e.g. KERN_INVALID_ADDRESS");
        }
        return Responses.ProblemTypeView.of(type);
    }
}
