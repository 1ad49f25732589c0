package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The Host checks of the modes without credentials: which names and addresses may name this server. */
class ClientChecksTest {

    @ParameterizedTest
    @CsvSource({"127.0.0.1, true", "10.0.0.255, true", "0.0.0.0, true", "999.999.999.999, true", "1.2.3, false",
        "1.2.3.4.5, false", "1234.1.1.1, false", "1..2.3, false", ".1.2.3, false", "1.2.3.4., false",
        "a.b.c.d, false", "1.2.3.x, false", "'', false"})
    void anIpv4LiteralIsFourGroupsOfOneToThreeDigits(String host, boolean literal) {
        assertThat(ClientChecks.isIpv4Literal(host)).isEqualTo(literal);
    }

    @ParameterizedTest
    @CsvSource({"192.168.1.20, true", "[::1], true", "localhost, true", "app.localhost, true",
        "machvm.example.com, true", "api.internal, true", "evil.example.org, false", "192.168.1, false", "'', false"})
    void hostsThatMayNameThisServer(String host, boolean allowed) {
        assertThat(ClientChecks.hostAllowed(host, List.of("machvm.example.com", "*.internal"))).isEqualTo(allowed);
    }
}
