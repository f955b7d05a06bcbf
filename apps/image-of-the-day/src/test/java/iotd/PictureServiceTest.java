package iotd;

import static org.junit.Assert.assertEquals;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.Test;

public class PictureServiceTest {

    private static final Picture UPSTREAM_PICTURE = new Picture("https://apod.test/today.jpg", "Today", "NASA");
    private static final OfflineCatalog CATALOG = new OfflineCatalog(List.of(
            new Picture("https://offline.test/1.jpg", "One", "A"),
            new Picture("https://offline.test/2.jpg", "Two", "B")));

    /** A clock the test moves by hand. */
    private static final class ManualClock extends Clock {
        private Instant now = Instant.parse("2024-01-02T10:00:00Z");

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }
    }

    /** Answers with a picture or an error, and counts how often it was asked. */
    private static final class ScriptedSource implements PictureSource {
        int calls;
        boolean failing;

        @Override
        public Picture fetch() throws IOException {
            calls++;
            if (failing) {
                throw new IOException("upstream down");
            }
            return UPSTREAM_PICTURE;
        }
    }

    private final ManualClock clock = new ManualClock();
    private final ScriptedSource upstream = new ScriptedSource();

    @Test
    public void withoutUpstreamServesTheCatalogPictureOfTheDay() throws Exception {
        PictureService service = new PictureService(Optional.empty(), CATALOG, clock);
        assertEquals(CATALOG.pictureFor(LocalDate.of(2024, 1, 2)), service.today());
    }

    @Test
    public void cachesTheUpstreamPictureForAnHour() throws Exception {
        PictureService service = new PictureService(Optional.of(upstream), CATALOG, clock);
        assertEquals(UPSTREAM_PICTURE, service.today());
        clock.advance(Duration.ofMinutes(59));
        assertEquals(UPSTREAM_PICTURE, service.today());
        assertEquals(1, upstream.calls);

        clock.advance(Duration.ofMinutes(2));
        service.today();
        assertEquals(2, upstream.calls);
    }

    @Test
    public void fallsBackToTheCatalogAndRetriesLater() throws Exception {
        upstream.failing = true;
        PictureService service = new PictureService(Optional.of(upstream), CATALOG, clock);
        assertEquals(CATALOG.pictureFor(LocalDate.of(2024, 1, 2)), service.today());
        assertEquals(CATALOG.pictureFor(LocalDate.of(2024, 1, 2)), service.today());
        assertEquals("a failed upstream is not asked again at once", 1, upstream.calls);

        upstream.failing = false;
        clock.advance(PictureService.RETRY_UPSTREAM_AFTER.plusSeconds(1));
        assertEquals(UPSTREAM_PICTURE, service.today());
        assertEquals(2, upstream.calls);
    }
}
