package iotd;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** The HTTP face of the service: {@code GET /image} and {@code GET /health}. */
public final class ImageServer {

    private final HttpServer http;
    private final ExecutorService workers;

    public ImageServer(int port, PictureService pictures, PrintStream accessLog) throws IOException {
        http = HttpServer.create(new InetSocketAddress(port), 0);
        // A pool, so a slow upstream fetch never holds up /health.
        workers = Executors.newFixedThreadPool(4);
        http.setExecutor(workers);
        Filter logRequests = new RequestLog(accessLog);
        http.createContext("/image", getOnly(exchange -> sendJson(exchange, 200, imageJson(pictures))))
                .getFilters().add(logRequests);
        http.createContext("/health", getOnly(exchange -> sendJson(exchange, 200, status("ok"))))
                .getFilters().add(logRequests);
        http.createContext("/", exchange -> sendJson(exchange, 404, error("not found")))
                .getFilters().add(logRequests);
    }

    public void start() {
        http.start();
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** Waits up to {@code graceSeconds} for in-flight requests (idle keep-alive connections included). */
    public void stop(int graceSeconds) {
        http.stop(graceSeconds);
        workers.shutdownNow();
    }

    private static JsonObject imageJson(PictureService pictures) throws IOException {
        try {
            return pictures.today().toJson();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching the picture", e);
        }
    }

    /** Contexts match by prefix; only the exact path with GET (or HEAD) reaches the handler. */
    private static HttpHandler getOnly(JsonHandler handler) {
        return exchange -> {
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            if (!path.equals(exchange.getHttpContext().getPath())) {
                sendJson(exchange, 404, error("not found"));
            } else if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET");
                sendJson(exchange, 405, error("method not allowed"));
            } else {
                handler.handle(exchange);
            }
        };
    }

    private static void sendJson(HttpExchange exchange, int status, JsonObject body) throws IOException {
        byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            if (!head) {
                out.write(bytes);
            }
        }
    }

    private static JsonObject status(String status) {
        JsonObject json = new JsonObject();
        json.addProperty("status", status);
        return json;
    }

    private static JsonObject error(String message) {
        JsonObject json = new JsonObject();
        json.addProperty("error", message);
        return json;
    }

    @FunctionalInterface
    private interface JsonHandler {
        void handle(HttpExchange exchange) throws IOException;
    }

    /** One line per request: method, path, status and duration. */
    private static final class RequestLog extends Filter {

        private final PrintStream out;

        RequestLog(PrintStream out) {
            this.out = out;
        }

        @Override
        public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
            long started = System.nanoTime();
            try {
                chain.doFilter(exchange);
            } finally {
                long millis = (System.nanoTime() - started) / 1_000_000;
                out.printf("%s %s %d %dms%n", exchange.getRequestMethod(),
                        exchange.getRequestURI().getPath(), exchange.getResponseCode(), millis);
            }
        }

        @Override
        public String description() {
            return "request log";
        }
    }
}
