package io.machvm.config;

import io.machvm.service.NodeBudgets;
import io.machvm.service.TenantQuotas;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The tenants' quotas from {@link QuotaProperties}. */
@Configuration(proxyBeanMethods = false)
public class QuotaConfiguration {

    @Bean
    TenantQuotas tenantQuotas(QuotaProperties properties, NodeBudgets node) {
        return new TenantQuotas(properties.defaults(), properties.overrides(), node.residentBytes(), node.mapEntries());
    }
}
