package io.machvm;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** Mach virtual memory as a service. */
@SpringBootApplication
@ConfigurationPropertiesScan
public class MachvmApplication {

    public static void main(String[] args) {
        SpringApplication.run(MachvmApplication.class, args);
    }
}
