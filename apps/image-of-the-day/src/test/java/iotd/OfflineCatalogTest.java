package iotd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.io.StringReader;
import java.time.LocalDate;
import java.util.HashSet;
import java.util.Set;
import org.junit.Test;

public class OfflineCatalogTest {

    private final OfflineCatalog catalog = OfflineCatalog.load();

    @Test
    public void bundledCatalogHasCompleteEntries() {
        assertTrue("expected at least 5 bundled pictures", catalog.size() >= 5);
        for (int day = 1; day <= catalog.size(); day++) {
            Picture picture = catalog.pictureFor(LocalDate.ofYearDay(2024, day));
            assertTrue(picture.url(), picture.url().startsWith("https://"));
            assertFalse(picture.caption().isBlank());
            assertFalse(picture.copyright().isBlank());
        }
    }

    @Test
    public void sameDayGivesSamePicture() {
        LocalDate day = LocalDate.of(2024, 3, 14);
        assertEquals(catalog.pictureFor(day), catalog.pictureFor(day));
    }

    @Test
    public void consecutiveDaysGiveDifferentPictures() {
        LocalDate day = LocalDate.of(2024, 3, 14);
        assertNotEquals(catalog.pictureFor(day), catalog.pictureFor(day.plusDays(1)));
    }

    @Test
    public void everyPictureIsReachedAndTheCatalogWrapsAround() {
        Set<Picture> seen = new HashSet<>();
        for (int day = 1; day <= 366; day++) {
            seen.add(catalog.pictureFor(LocalDate.ofYearDay(2024, day)));
        }
        assertEquals(catalog.size(), seen.size());
    }

    @Test
    public void parsesEntries() {
        OfflineCatalog parsed = OfflineCatalog.parse(new StringReader(
                "[{\"url\":\"https://example.test/a.jpg\",\"caption\":\"A\",\"copyright\":\"Me\"}]"));
        assertEquals(new Picture("https://example.test/a.jpg", "A", "Me"),
                parsed.pictureFor(LocalDate.of(2024, 12, 31)));
    }

    @Test(expected = IllegalArgumentException.class)
    public void rejectsAnEmptyCatalog() {
        OfflineCatalog.parse(new StringReader("[]"));
    }
}
