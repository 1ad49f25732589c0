package io.machvm.security;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * The application as shard 0 of a cluster of two, in protected mode, on a fixed port with a small store; the test
 * class names both shards' ports ({@link ClusterApiKeyModeTest#twoShards}).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.DEFINED_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.cluster.enabled=true", "machvm.cluster.shard=0", "machvm.cluster.shards=2",
                "machvm.cluster.secret=" + ClusterApiKeyModeTest.SECRET})
@interface ShardZeroOfTwo {
}
