package io.machvm.service;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import io.machvm.vm.Flavor;
import java.util.EnumMap;
import java.util.Map;

/** One page store per flavor's page size, all drawing on one capacity. */
public final class PageStores {
    private final StoreCapacity capacity;
    private final Map<Flavor, PageStore> byFlavor = new EnumMap<>(Flavor.class);

    public PageStores(long capacityBytes, long slabBytes) {
        this.capacity = new StoreCapacity(capacityBytes);
        for (Flavor flavor : Flavor.values()) {
            byFlavor.put(flavor, new PageStore(flavor.pageSize(), slabBytes, capacity));
        }
    }

    public PageStore forFlavor(Flavor flavor) {
        return byFlavor.get(flavor);
    }

    public StoreCapacity capacity() {
        return capacity;
    }

    /** Resident pages of every store, in bytes. */
    public long residentBytes() {
        long bytes = 0;
        for (PageStore store : byFlavor.values()) {
            bytes += store.residentPages() * store.pageSize();
        }
        return bytes;
    }

    /** Shared (copy-on-write) pages of every store, in bytes. */
    public long sharedBytes() {
        long bytes = 0;
        for (PageStore store : byFlavor.values()) {
            bytes += store.sharedPages() * store.pageSize();
        }
        return bytes;
    }
}
