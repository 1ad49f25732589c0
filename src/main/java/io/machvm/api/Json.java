package io.machvm.api;

import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.json.JsonFactory;

/** The Jackson 3 stream factory the API reads request bodies and writes problems with. */
final class Json {
    /** No source text in error locations (it would echo request bytes into problem details). */
    static final JsonFactory FACTORY = JsonFactory.builder()
            .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .disable(StreamReadFeature.AUTO_CLOSE_SOURCE)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength(Integer.MAX_VALUE) // base64 data of vm_write; bodies have their own limits
                    .maxNestingDepth(64)
                    .build())
            .build();

    private Json() {
    }
}
