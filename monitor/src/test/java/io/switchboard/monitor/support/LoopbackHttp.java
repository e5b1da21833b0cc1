package io.switchboard.monitor.support;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/**
 * A loopback HTTP(S) server the tests start (the JDK's com.sun.net.httpserver, handlers on virtual
 * threads), with the requests it received. {@link #stop()} and {@link #restart()} keep the port, so
 * a test can take a target away and bring it back.
 */
public final class LoopbackHttp implements AutoCloseable {
    /** A request as received. */
    public record Received(String method, String path, Map<String, List<String>> headers, String body) {
        public String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).findFirst()
                    .map(e -> e.getValue().getFirst()).orElse(null);
        }
    }

    private final Map<String, HttpHandler> handlers = new ConcurrentHashMap<>();
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final SSLContext tls;
    private final String[] protocols;
    private volatile HttpServer server;
    private int port;

    public LoopbackHttp() throws IOException {
        this(null);
    }

    public LoopbackHttp(SSLContext tls) throws IOException {
        this(tls, new String[0]);
    }

    /** An HTTPS server offering only the given TLS protocols (e.g. TLSv1.2, whose sessions resume by id). */
    public LoopbackHttp(SSLContext tls, String... protocols) throws IOException {
        this.tls = tls;
        this.protocols = protocols;
        start(0);
    }

    private void start(int wanted) throws IOException {
        HttpServer created = tls == null ? HttpServer.create(new InetSocketAddress("127.0.0.1", wanted), 64)
                : HttpsServer.create(new InetSocketAddress("127.0.0.1", wanted), 64);
        if (created instanceof HttpsServer https) {
            https.setHttpsConfigurator(new HttpsConfigurator(tls) {
                @Override
                public void configure(com.sun.net.httpserver.HttpsParameters params) {
                    javax.net.ssl.SSLParameters parameters = tls.getDefaultSSLParameters();
                    if (protocols.length > 0) {
                        parameters.setProtocols(protocols);
                    }
                    params.setSSLParameters(parameters);
                }
            });
        }
        created.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        created.createContext("/", this::dispatch);
        created.start();
        server = created;
        port = created.getAddress().getPort();
    }

    private void dispatch(HttpExchange exchange) throws IOException {
        try (exchange) {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
                    Map.copyOf(exchange.getRequestHeaders()), body));
            HttpHandler handler = handlers.get(exchange.getRequestURI().getPath());
            if (handler == null) {
                respond(exchange, 404, "no such path");
                return;
            }
            handler.handle(exchange);
        }
    }

    public LoopbackHttp on(String path, HttpHandler handler) {
        handlers.put(path, handler);
        return this;
    }

    /** A path that answers with a fixed status and body. */
    public LoopbackHttp answer(String path, int status, String body) {
        return on(path, exchange -> respond(exchange, status, body));
    }

    public LoopbackHttp redirect(String path, int status, String location) {
        return on(path, exchange -> {
            exchange.getResponseHeaders().add("Location", location);
            exchange.sendResponseHeaders(status, -1);
        });
    }

    public static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            exchange.getResponseBody().write(bytes);
        }
    }

    public int port() {
        return port;
    }

    public String url(String path) {
        return (tls == null ? "http" : "https") + "://127.0.0.1:" + port + path;
    }

    public List<Received> received() {
        return received;
    }

    public List<Received> received(String path) {
        return received.stream().filter(r -> r.path().equals(path)).toList();
    }

    /** Closes the listening socket: connections to the port are refused until {@link #restart()}. */
    public void stop() {
        HttpServer running = server;
        if (running != null) {
            running.stop(0);
            server = null;
        }
    }

    public void restart() throws IOException {
        stop();
        start(port);
    }

    @Override
    public void close() {
        stop();
    }
}
