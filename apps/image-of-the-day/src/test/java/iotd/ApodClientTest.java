package iotd;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** Runs the client against a stub APOD API on a loopback port. */
public class ApodClientTest {

    private HttpServer stub;
    private final AtomicReference<String> requestedQuery = new AtomicReference<>();
    private volatile int status = 200;
    private volatile String body = "";
    private volatile long delayMillis = 0;

    @Before
    public void startStub() throws IOException {
        stub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        stub.createContext("/planetary/apod", exchange -> {
            requestedQuery.set(exchange.getRequestURI().getRawQuery());
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        stub.start();
    }

    @After
    public void stopStub() {
        stub.stop(0);
    }

    private ApodClient client(Duration timeout) {
        String url = "http://127.0.0.1:" + stub.getAddress().getPort() + "/planetary/apod";
        return new ApodClient(url, "TEST KEY", timeout);
    }

    @Test
    public void mapsTitleToCaptionAndSendsTheKey() throws Exception {
        body = "{\"url\":\"https://apod.test/x.jpg\",\"title\":\"The Horsehead Nebula\","
                + "\"copyright\":\"\\nSomeone\\n\",\"media_type\":\"image\"}";
        Picture picture = client(Duration.ofSeconds(2)).fetch();
        assertEquals(new Picture("https://apod.test/x.jpg", "The Horsehead Nebula", "Someone"), picture);
        assertEquals("api_key=TEST+KEY", requestedQuery.get());
    }

    @Test
    public void publicDomainPicturesHaveNoCopyrightField() throws Exception {
        body = "{\"url\":\"https://apod.test/y.jpg\",\"title\":\"Earthrise\"}";
        assertEquals(ApodClient.PUBLIC_DOMAIN, client(Duration.ofSeconds(2)).fetch().copyright());
    }

    @Test
    public void errorStatusIsAnIOException() throws Exception {
        status = 503;
        body = "{\"error\":\"down\"}";
        expectIOException(client(Duration.ofSeconds(2)));
    }

    @Test
    public void malformedBodyIsAnIOException() throws Exception {
        body = "<html>not json</html>";
        expectIOException(client(Duration.ofSeconds(2)));
    }

    @Test
    public void missingUrlIsAnIOException() throws Exception {
        body = "{\"title\":\"No picture\"}";
        expectIOException(client(Duration.ofSeconds(2)));
    }

    @Test
    public void slowUpstreamTimesOut() throws Exception {
        delayMillis = 1_000;
        body = "{\"url\":\"https://apod.test/z.jpg\",\"title\":\"Late\"}";
        long started = System.nanoTime();
        try {
            client(Duration.ofMillis(200)).fetch();
            fail("expected a timeout");
        } catch (HttpTimeoutException expected) {
            long millis = (System.nanoTime() - started) / 1_000_000;
            assertTrue("gave up after " + millis + " ms", millis < 900);
        }
    }

    private static void expectIOException(ApodClient client) throws InterruptedException {
        try {
            client.fetch();
            fail("expected an IOException");
        } catch (IOException expected) {
            // the service falls back to the offline catalog on any IOException
        }
    }
}
