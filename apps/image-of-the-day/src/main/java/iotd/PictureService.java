package iotd;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Optional;

/**
 * Today's picture: from the upstream API when one is configured, cached so NASA is asked at most
 * once per {@link #CACHE_FOR}; from the offline catalog otherwise or when the upstream fails.
 */
public final class PictureService {

    static final Duration CACHE_FOR = Duration.ofHours(1);
    /** After an upstream failure, serve the catalog for a while instead of paying the timeout on every request. */
    static final Duration RETRY_UPSTREAM_AFTER = Duration.ofMinutes(1);

    private final Optional<PictureSource> upstream;
    private final OfflineCatalog catalog;
    private final Clock clock;

    private Picture cached;
    private Instant cachedUntil = Instant.MIN;

    public PictureService(Optional<PictureSource> upstream, OfflineCatalog catalog, Clock clock) {
        this.upstream = upstream;
        this.catalog = catalog;
        this.clock = clock;
    }

    public synchronized Picture today() throws InterruptedException {
        if (upstream.isEmpty()) {
            return offline();
        }
        Instant now = clock.instant();
        if (now.isBefore(cachedUntil)) {
            return cached;
        }
        try {
            cached = upstream.get().fetch();
            cachedUntil = now.plus(CACHE_FOR);
        } catch (IOException e) {
            System.err.println("upstream picture unavailable, serving the offline catalog: " + e);
            cached = offline();
            cachedUntil = now.plus(RETRY_UPSTREAM_AFTER);
        }
        return cached;
    }

    private Picture offline() {
        return catalog.pictureFor(LocalDate.now(clock));
    }
}
