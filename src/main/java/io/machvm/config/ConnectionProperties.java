package io.machvm.config;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Limits on client connections ({@code machvm.connections.*}), beside Tomcat's own {@code server.tomcat.*} (README.md,
 * Slow clients).
 *
 * @param maxPerClient    most connections open at once from one client address; further ones are closed as they are
 *                        accepted, so one client cannot take all of {@code server.tomcat.max-connections}. 0: no limit
 *                        (behind a proxy every client has the proxy's address)
 * @param bodyIdleTimeout longest wait for the next bytes of a request body
 */
@ConfigurationProperties("machvm.connections")
public record ConnectionProperties(@DefaultValue("256") int maxPerClient,
        @DefaultValue("20s") Duration bodyIdleTimeout) {

    public ConnectionProperties {
        if (maxPerClient < 0) {
            throw new InvalidSettingException("machvm.connections.max-per-client",
                    "machvm.connections.max-per-client must be 0 (no limit) or more, not " + maxPerClient);
        }
        if (bodyIdleTimeout == null || bodyIdleTimeout.toMillis() < 1 || bodyIdleTimeout.toMillis() > Integer.MAX_VALUE) {
            throw new InvalidSettingException("machvm.connections.body-idle-timeout",
                    "machvm.connections.body-idle-timeout must be positive, not " + bodyIdleTimeout);
        }
    }
}
