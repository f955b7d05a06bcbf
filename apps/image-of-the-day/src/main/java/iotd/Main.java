package iotd;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * Starts the service. Environment: {@code PORT} (default 80), {@code APOD_URL} and {@code APOD_KEY}
 * (default {@code DEMO_KEY}); without {@code APOD_URL} the offline catalog is served.
 */
public final class Main {

    static final Duration UPSTREAM_TIMEOUT = Duration.ofSeconds(3);
    static final int STOP_GRACE_SECONDS = 1;

    private Main() {
    }

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(env("PORT", "80"));
        Optional<PictureSource> upstream = Optional.ofNullable(System.getenv("APOD_URL"))
                .filter(url -> !url.isBlank())
                .map(url -> new ApodClient(url, env("APOD_KEY", "DEMO_KEY"), UPSTREAM_TIMEOUT));

        PictureService pictures = new PictureService(upstream, OfflineCatalog.load(), Clock.systemUTC());
        ImageServer server = new ImageServer(port, pictures, System.out);
        server.start();
        System.out.printf("image-of-the-day listening on port %d (%s)%n", server.port(),
                upstream.isPresent() ? "APOD API with offline fallback" : "offline catalog");

        // `docker stop` sends SIGTERM: finish in-flight requests, then exit 0 (a clean stop,
        // not the JVM's default status 143).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.stop(STOP_GRACE_SECONDS);
            System.out.println("image-of-the-day stopped");
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }));
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}
