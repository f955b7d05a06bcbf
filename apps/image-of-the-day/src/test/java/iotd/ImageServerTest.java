package iotd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Optional;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** Starts the real server on a free port and talks HTTP to it. */
public class ImageServerTest {

    private final ByteArrayOutputStream accessLog = new ByteArrayOutputStream();
    private final HttpClient http = HttpClient.newHttpClient();
    private ImageServer server;

    @Before
    public void start() throws Exception {
        PictureService pictures = new PictureService(Optional.empty(), OfflineCatalog.load(), Clock.systemUTC());
        server = new ImageServer(0, pictures, new PrintStream(accessLog, true, StandardCharsets.UTF_8));
        server.start();
    }

    @After
    public void stop() {
        server.stop(0);
    }

    private HttpResponse<String> send(String method, String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** The line is written after the response is sent, so the client may see the response first. */
    private String[] awaitLogLines(int expected) throws InterruptedException {
        long deadline = System.nanoTime() + 2_000_000_000L;
        String[] lines;
        do {
            Thread.sleep(10);
            lines = accessLog.toString(StandardCharsets.UTF_8).strip().split("\n");
        } while (lines.length < expected && System.nanoTime() < deadline);
        return lines;
    }

    @Test
    public void imageIsJsonWithUrlCaptionAndCopyright() throws Exception {
        HttpResponse<String> response = send("GET", "/image");
        assertEquals(200, response.statusCode());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonObject json = JsonParser.parseString(response.body()).getAsJsonObject();
        for (String key : new String[] {"url", "caption", "copyright"}) {
            assertTrue("missing " + key + " in " + json, json.has(key));
        }
    }

    @Test
    public void healthIsOk() throws Exception {
        HttpResponse<String> response = send("GET", "/health");
        assertEquals(200, response.statusCode());
        assertEquals("ok", JsonParser.parseString(response.body()).getAsJsonObject().get("status").getAsString());
    }

    @Test
    public void unknownPathsAreNotFound() throws Exception {
        assertEquals(404, send("GET", "/nope").statusCode());
        assertEquals(404, send("GET", "/image/extra").statusCode());
    }

    @Test
    public void onlyGetIsAllowed() throws Exception {
        assertEquals(405, send("POST", "/image").statusCode());
    }

    @Test
    public void logsOneLinePerRequest() throws Exception {
        send("GET", "/health");
        send("GET", "/image");
        String[] lines = awaitLogLines(2);
        assertEquals(2, lines.length);
        assertTrue(lines[0], lines[0].startsWith("GET /health 200 "));
        assertTrue(lines[1], lines[1].startsWith("GET /image 200 "));
    }
}
