package iotd;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

/** Pictures bundled with the service, so it works without NASA's API (or without any network). */
public final class OfflineCatalog {

    static final String RESOURCE = "/catalog.json";

    private final List<Picture> pictures;

    OfflineCatalog(List<Picture> pictures) {
        if (pictures.isEmpty()) {
            throw new IllegalArgumentException("the offline catalog needs at least one picture");
        }
        this.pictures = List.copyOf(pictures);
    }

    public static OfflineCatalog load() {
        try (InputStream in = OfflineCatalog.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the classpath");
            }
            return parse(new InputStreamReader(in, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + RESOURCE, e);
        }
    }

    static OfflineCatalog parse(Reader json) {
        JsonArray entries = JsonParser.parseReader(json).getAsJsonArray();
        List<Picture> pictures = new ArrayList<>();
        for (JsonElement element : entries) {
            JsonObject entry = element.getAsJsonObject();
            pictures.add(new Picture(
                    entry.get("url").getAsString(),
                    entry.get("caption").getAsString(),
                    entry.get("copyright").getAsString()));
        }
        return new OfflineCatalog(pictures);
    }

    /** The same date always gives the same picture; consecutive days walk through the catalog. */
    public Picture pictureFor(LocalDate date) {
        return pictures.get((date.getDayOfYear() - 1) % pictures.size());
    }

    public int size() {
        return pictures.size();
    }
}
