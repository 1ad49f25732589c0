package io.machvm.security;

import io.machvm.cluster.ClusterProperties;
import io.machvm.config.InvalidSettingException;
import io.machvm.service.TenantResolver;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.http.HttpMethod;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.security.access.AccessDeniedException;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.config.observation.SecurityObservationSettings;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.oauth2.core.OAuth2AuthenticationException;
import org.springframework.security.oauth2.jwt.JwtDecoder;
import org.springframework.security.oauth2.server.resource.BearerTokenError;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.access.AccessDeniedHandler;
import org.springframework.security.web.context.SecurityContextHolderFilter;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Who may call, by {@code machvm.security.mode}: see {@link SecurityMode}. Every refusal is a problem: {@code 401}
 * with {@code WWW-Authenticate: Bearer} without valid credentials, {@code 403} otherwise. The liveness and readiness
 * probes answer anyone, without details; the other operations endpoints need an admin when credentials are on.
 */
@Configuration(proxyBeanMethods = false)
public class SecurityConfiguration {
    private static final Logger log = LoggerFactory.getLogger(SecurityConfiguration.class);

    static {
        // A call's tenant must reach the threads a request starts (vm_write of a JSON body runs on its own thread).
        SecurityContextHolder.setStrategyName(SecurityContextHolder.MODE_INHERITABLETHREADLOCAL);
    }

    @Bean
    TenantResolver tenantResolver() {
        return new SecurityTenantResolver();
    }

    /**
     * Spring Security's own observations are off: with them on, every filter of the chain is wrapped and each
     * request starts an observation around the chain and another around authorization, and counts a meter event
     * before and after each filter, which cost a small call about a fifth of its CPU (BENCHMARKS.md). They are no
     * series of machvm's; http.server.requests (status, URI, outcome) still observes every request, refusals
     * included.
     */
    @Bean
    static SecurityObservationSettings securityObservationSettings() {
        return SecurityObservationSettings.noObservations();
    }

    @Bean
    SecurityFilterChain machvmSecurity(HttpSecurity http, MachvmSecurityProperties properties,
            ClusterProperties cluster, ObjectProvider<JwtDecoder> jwtDecoder) throws Exception {
        SecurityMode mode = properties.securityMode();
        AuthenticationEntryPoint entryPoint = SecurityConfiguration::unauthorized;
        AccessDeniedHandler denied = SecurityConfiguration::forbidden;
        http.csrf(csrf -> csrf.disable()) // no cookies: credentials travel in Authorization, cross-site checks below
                .formLogin(form -> form.disable())
                .httpBasic(basic -> basic.disable())
                .logout(logout -> logout.disable())
                .requestCache(cache -> cache.disable())
                .sessionManagement(session -> session.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .exceptionHandling(e -> e.authenticationEntryPoint(entryPoint).accessDeniedHandler(denied));
        // the shards' calls to each other, in every mode; first, so that protected mode's checks see them
        // authenticated
        Class<? extends Filter> anonymousAfter = SecurityContextHolderFilter.class;
        if (!cluster.secret().isEmpty()) {
            http.addFilterAfter(new ClusterSecretFilter(cluster.secret()), SecurityContextHolderFilter.class);
            anonymousAfter = ClusterSecretFilter.class;
        }
        switch (mode) {
            case PROTECTED -> {
                http.addFilterAfter(new AnonymousAccessFilter(true, properties.allowedHosts()), anonymousAfter);
                log.info("machvm.security.mode=protected: answering only clients on loopback");
            }
            case NONE -> {
                http.addFilterAfter(new AnonymousAccessFilter(false, properties.allowedHosts()), anonymousAfter);
                log.warn("machvm.security.mode=none: anyone who reaches this server can read, change and terminate "
                        + "every task; set machvm.security.mode=api-key or jwt to require credentials");
            }
            case API_KEY -> http.oauth2ResourceServer(resource -> resource
                    .authenticationEntryPoint(entryPoint).accessDeniedHandler(denied)
                    .opaqueToken(opaque -> opaque.introspector(
                            new ApiKeyIntrospector(properties.apiKeys(), properties.adminTenants()))));
            case JWT -> {
                JwtDecoder decoder = jwtDecoder.getIfAvailable();
                if (decoder == null) {
                    throw new InvalidSettingException("spring.security.oauth2.resourceserver.jwt.jwk-set-uri",
                            "machvm.security.mode=jwt needs spring.security.oauth2.resourceserver.jwt.jwk-set-uri, "
                                    + "issuer-uri or public-key-location");
                }
                http.oauth2ResourceServer(resource -> resource
                        .authenticationEntryPoint(entryPoint).accessDeniedHandler(denied)
                        .jwt(jwt -> jwt.decoder(decoder).jwtAuthenticationConverter(new TenantJwtConverter(
                                properties.tenantClaim(), properties.adminScope(), properties.adminTenants()))));
            }
        }
        http.authorizeHttpRequests(requests -> {
            requests.dispatcherTypeMatchers(DispatcherType.ERROR, DispatcherType.ASYNC).permitAll();
            requests.requestMatchers("/actuator/health/liveness", "/actuator/health/readiness").permitAll();
            // the cluster's table and the steps of a scale, in every mode (/cluster/tasks/** are a tenant's calls)
            requests.requestMatchers("/cluster", "/cluster/*").hasAuthority(MachvmAuthorities.ADMIN);
            if (mode.authenticates()) {
                requests.requestMatchers("/actuator", "/actuator/**").hasAuthority(MachvmAuthorities.ADMIN);
                requests.requestMatchers("/problems", "/problems/**", "/v3/api-docs", "/v3/api-docs/**",
                        "/swagger-ui.html", "/swagger-ui/**").permitAll();
                // The inspector's files hold no data; the page asks for a token and sends it on every API call.
                requests.requestMatchers(HttpMethod.GET, "/", "/ui", "/ui/**").permitAll();
                requests.anyRequest().hasAuthority(MachvmAuthorities.TENANT);
            } else {
                requests.anyRequest().permitAll();
            }
        });
        return http.build();
    }

    private static void unauthorized(HttpServletRequest request, HttpServletResponse response,
            AuthenticationException e) throws IOException {
        String challenge = "Bearer realm=\"machvm\"";
        String detail = "this call needs credentials: send Authorization: Bearer <key or token>";
        if (e instanceof OAuth2AuthenticationException oauth && oauth.getError() instanceof BearerTokenError error) {
            challenge += ", error=\"" + error.getErrorCode() + "\"";
            detail = "the bearer credentials are not valid (" + error.getErrorCode() + ")";
        } else if (e instanceof OAuth2AuthenticationException oauth) {
            challenge += ", error=\"invalid_token\"";
            detail = "the bearer credentials are not valid (" + oauth.getError().getErrorCode() + ")";
        }
        SecurityProblems.unauthorized(request, response, challenge, detail);
    }

    private static void forbidden(HttpServletRequest request, HttpServletResponse response, AccessDeniedException e)
            throws IOException {
        SecurityProblems.forbidden(request, response, "this call needs an admin (machvm.security.admin-tenants, or "
                + "the scope machvm.security.admin-scope)");
    }

    /** Refuses form content types in the modes without credentials (see {@link FormContentInterceptor}). */
    @Bean
    WebMvcConfigurer formContentRefusal(MachvmSecurityProperties properties) {
        return new WebMvcConfigurer() {
            @Override
            public void addInterceptors(InterceptorRegistry registry) {
                if (!properties.securityMode().authenticates()) {
                    registry.addInterceptor(new FormContentInterceptor()).excludePathPatterns("/error");
                }
            }
        };
    }

    /** Records each connection's peer before forwarding headers are applied (see {@link PeerAddressValve}). */
    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> peerAddressValve() {
        return new PeerAddressCustomizer();
    }

    static final class PeerAddressCustomizer implements WebServerFactoryCustomizer<TomcatServletWebServerFactory>,
            Ordered {
        @Override
        public void customize(TomcatServletWebServerFactory factory) {
            factory.addEngineValves(new PeerAddressValve());
        }

        @Override
        public int getOrder() {
            return Ordered.HIGHEST_PRECEDENCE; // before the RemoteIpValve that server.forward-headers-strategy adds
        }
    }
}
