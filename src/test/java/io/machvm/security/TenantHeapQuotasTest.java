package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * A tenant's resident-bytes and map-entry quotas are drawn from by all of its tasks together; beyond either a call is
 * 507 KERN_RESOURCE_SHORTAGE naming the setting, changes nothing, and refuses no other tenant. Terminating a task gives
 * its share back. The inspector's files answer without credentials (the page asks for a token itself).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.security.mode=api-key",
                "machvm.security.api-keys.tiny=" + TenantHeapQuotasTest.TINY,
                "machvm.security.api-keys.roomy=" + TenantHeapQuotasTest.ROOMY,
                "machvm.quota.tenants.tiny.max-resident-bytes=64KB",
                "machvm.quota.tenants.tiny.max-map-entries=3"})
class TenantHeapQuotasTest extends TenantCalls {
    static final String TINY = "tiny-key-0123456789abcdef";
    static final String ROOMY = "roomy-key-0123456789abcdef";
    private static final int PAGE = 16384;

    Answer write(String key, String task, long address, byte[] bytes) throws IOException {
        return call(key, "PUT", "/tasks/" + task + "/memory/0x" + Long.toHexString(address),
                "application/octet-stream", bytes);
    }

    private static byte[] pages(int count, byte fill) {
        byte[] bytes = new byte[count * PAGE];
        java.util.Arrays.fill(bytes, fill);
        return bytes;
    }

    @Test
    void residentBytesAreCountedAcrossATenantsTasks() throws IOException {
        assertThat(json(TINY, "PUT", "/tasks/r1", "{}").status()).isIn(200, 201);
        assertThat(json(TINY, "PUT", "/tasks/r2", "{}").status()).isIn(200, 201);
        assertThat(json(TINY, "POST", "/tasks/r1/allocate", "{\"address\":\"0x100000000\",\"size\":\"0x40000\"}")
                .status()).isEqualTo(201);
        assertThat(json(TINY, "POST", "/tasks/r2/allocate", "{\"address\":\"0x100000000\",\"size\":\"0x40000\"}")
                .status()).isEqualTo(201);
        assertThat(write(TINY, "r1", 0x100000000L, pages(3, (byte) 1)).status()).isEqualTo(204);
        assertThat(write(TINY, "r2", 0x100000000L, pages(1, (byte) 2)).status()).isEqualTo(204);

        Answer refused = write(TINY, "r2", 0x100010000L, pages(1, (byte) 3));
        assertThat(refused.status()).isEqualTo(507);
        assertThat(refused.body()).contains("KERN_RESOURCE_SHORTAGE").contains("max-resident-bytes");
        Answer unchanged = call(TINY, "GET", "/tasks/r2/memory/0x100010000?size=16", null, null);
        assertThat(unchanged.status()).isEqualTo(200);
        assertThat(unchanged.body().getBytes(StandardCharsets.ISO_8859_1)).containsOnly((byte) 0);

        // Another tenant is not refused.
        assertThat(json(ROOMY, "PUT", "/tasks/r2", "{}").status()).isIn(200, 201);
        assertThat(json(ROOMY, "POST", "/tasks/r2/allocate", "{\"address\":\"0x100000000\",\"size\":\"0x40000\"}")
                .status()).isEqualTo(201);
        assertThat(write(ROOMY, "r2", 0x100000000L, pages(8, (byte) 4)).status()).isEqualTo(204);

        // Terminating a task gives its pages back to the tenant.
        assertThat(call(TINY, "DELETE", "/tasks/r1", null, null).status()).isEqualTo(204);
        assertThat(write(TINY, "r2", 0x100010000L, pages(3, (byte) 3)).status()).isEqualTo(204);
        assertThat(call(TINY, "DELETE", "/tasks/r2", null, null).status()).isEqualTo(204);
        assertThat(call(ROOMY, "DELETE", "/tasks/r2", null, null).status()).isEqualTo(204);
    }

    @Test
    void mapEntriesAreCountedAcrossATenantsTasks() throws IOException {
        assertThat(json(TINY, "PUT", "/tasks/e1", "{}").status()).isIn(200, 201);
        assertThat(json(TINY, "PUT", "/tasks/e2", "{}").status()).isIn(200, 201);
        // Holes between the allocations keep them separate entries.
        for (String address : new String[] {"0x200000000", "0x200100000"}) {
            assertThat(json(TINY, "POST", "/tasks/e1/allocate", "{\"address\":\"" + address + "\",\"size\":\"0x4000\"}")
                    .status()).isEqualTo(201);
        }
        assertThat(json(TINY, "POST", "/tasks/e2/allocate", "{\"address\":\"0x200000000\",\"size\":\"0x4000\"}")
                .status()).isEqualTo(201);
        Answer refused = json(TINY, "POST", "/tasks/e2/allocate",
                "{\"address\":\"0x200100000\",\"size\":\"0x4000\"}");
        assertThat(refused.status()).isEqualTo(507);
        assertThat(refused.body()).contains("KERN_RESOURCE_SHORTAGE").contains("max-map-entries");
        assertThat(call(TINY, "GET", "/tasks/e2/regions", null, null).body().split("\"address\"", -1).length - 1)
                .isEqualTo(1);

        assertThat(json(ROOMY, "PUT", "/tasks/e2", "{}").status()).isIn(200, 201);
        assertThat(json(ROOMY, "POST", "/tasks/e2/allocate", "{\"address\":\"0x200100000\",\"size\":\"0x4000\"}")
                .status()).isEqualTo(201);

        assertThat(call(TINY, "DELETE", "/tasks/e1", null, null).status()).isEqualTo(204);
        assertThat(json(TINY, "POST", "/tasks/e2/allocate", "{\"address\":\"0x200100000\",\"size\":\"0x4000\"}")
                .status()).isEqualTo(201);
        assertThat(call(TINY, "DELETE", "/tasks/e2", null, null).status()).isEqualTo(204);
        assertThat(call(ROOMY, "DELETE", "/tasks/e2", null, null).status()).isEqualTo(204);
    }

    @Test
    void theInspectorsFilesAnswerWithoutCredentials() throws IOException {
        assertThat(call(null, "GET", "/ui/", null, null).status()).isEqualTo(200);
        assertThat(call(null, "GET", "/", null, null).status()).isIn(301, 302);
        assertThat(call(null, "GET", "/tasks", null, null).status()).isEqualTo(401);
    }
}
