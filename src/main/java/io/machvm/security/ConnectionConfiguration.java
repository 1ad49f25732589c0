package io.machvm.security;

import io.machvm.config.ConnectionProperties;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Bounds what slow clients can hold: Tomcat's connector speaks {@link ClientLimitedProtocol} with
 * {@code machvm.connections.max-per-client}, and a request body that stalls for {@code body-idle-timeout} ends the
 * request. Header and response idle times and the connection limit are Tomcat's own {@code server.tomcat.*}
 * (application.yaml).
 */
@Configuration(proxyBeanMethods = false)
public class ConnectionConfiguration {

    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> clientLimitedProtocol(ConnectionProperties properties) {
        return factory -> {
            factory.setProtocol(ClientLimitedProtocol.class.getName());
            factory.addConnectorCustomizers(connector -> {
                if (connector.getProtocolHandler() instanceof ClientLimitedProtocol protocol) {
                    protocol.setMaxConnectionsPerClient(properties.maxPerClient());
                    protocol.setDisableUploadTimeout(false);
                    protocol.setConnectionUploadTimeout((int) properties.bodyIdleTimeout().toMillis());
                }
            });
        };
    }
}
