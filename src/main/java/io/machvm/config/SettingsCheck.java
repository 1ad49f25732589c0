package io.machvm.config;

import org.springframework.boot.context.event.ApplicationEnvironmentPreparedEvent;
import org.springframework.boot.context.logging.LoggingApplicationListener;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.ApplicationListener;
import org.springframework.core.Ordered;

/**
 * Binds and checks every {@code machvm.*} setting as soon as the environment is ready, before the context, the web
 * server or any bean exists, so that a bad value stops start-up at once and the only output is the failure analysis
 * (one line naming the setting). Registered in {@code META-INF/spring.factories}; runs right after logging is set up.
 */
public final class SettingsCheck implements ApplicationListener<ApplicationEnvironmentPreparedEvent>, Ordered {

    @Override
    public int getOrder() {
        return LoggingApplicationListener.DEFAULT_ORDER + 1;
    }

    @Override
    public void onApplicationEvent(ApplicationEnvironmentPreparedEvent event) {
        MachvmProperties properties = Binder.get(event.getEnvironment()).bindOrCreate("machvm", MachvmProperties.class);
        MachvmConfiguration.checkDirectMemory(properties);
    }
}
