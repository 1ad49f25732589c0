package io.machvm.ops;

import io.machvm.config.MachvmProperties;
import java.time.Duration;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Holds a graceful shutdown for {@code machvm.shutdown.drain} before the web server stops: readiness already
 * answers refusing traffic (Spring publishes that as closing begins), the connector still serves. A proxy whose
 * health check sees readiness fail stops choosing this node, so no request is sent over a keep-alive connection the
 * connector is about to close. Stopped before the web server's graceful shutdown (a higher phase stops first).
 */
@Component
public class ShutdownDrain implements SmartLifecycle {
    private final Duration drain;
    private volatile boolean running;

    public ShutdownDrain(MachvmProperties properties) {
        this.drain = properties.shutdown().drain();
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        if (drain.isZero()) {
            return;
        }
        try {
            Thread.sleep(drain);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE + 1;
    }
}
