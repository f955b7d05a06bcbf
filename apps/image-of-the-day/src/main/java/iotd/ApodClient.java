package iotd;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Fetches today's picture from a NASA APOD style API: {@code GET <url>?api_key=<key>}. */
public final class ApodClient implements PictureSource {

    /** APOD leaves out the copyright of public-domain (NASA) pictures. */
    static final String PUBLIC_DOMAIN = "Public domain";

    private final HttpClient http;
    private final URI uri;
    private final Duration timeout;

    public ApodClient(String apiUrl, String apiKey, Duration timeout) {
        String separator = apiUrl.contains("?") ? "&" : "?";
        this.uri = URI.create(apiUrl + separator + "api_key=" + URLEncoder.encode(apiKey, StandardCharsets.UTF_8));
        this.timeout = timeout;
        this.http = HttpClient.newBuilder()
                .connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
    }

    @Override
    public Picture fetch() throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(timeout)
                .header("Accept", "application/json")
                .GET()
                .build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("APOD API answered HTTP " + response.statusCode());
        }
        return parse(response.body());
    }

    static Picture parse(String body) throws IOException {
        try {
            JsonObject json = JsonParser.parseString(body).getAsJsonObject();
            String url = text(json, "url");
            String title = text(json, "title");
            if (url == null || title == null) {
                throw new IOException("APOD response lacks url or title");
            }
            String copyright = text(json, "copyright");
            return new Picture(url, title, copyright == null ? PUBLIC_DOMAIN : copyright);
        } catch (JsonParseException | IllegalStateException e) {
            throw new IOException("APOD response is not a JSON object", e);
        }
    }

    private static String text(JsonObject json, String key) {
        JsonElement value = json.get(key);
        if (value == null || !value.isJsonPrimitive()) {
            return null;
        }
        String text = value.getAsString().strip();
        return text.isEmpty() ? null : text;
    }
}
