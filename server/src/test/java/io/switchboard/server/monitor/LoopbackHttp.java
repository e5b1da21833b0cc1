package io.switchboard.server.monitor;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A loopback HTTP server for the node tests: fixed answers per path, the requests it received, and
 * stop/restart on the same port so a test can take a target away and bring it back.
 */
final class LoopbackHttp implements AutoCloseable {
    record Received(String path, String body) {
    }

    private record Answer(int status, String body) {
    }

    private final Map<String, Answer> answers = new ConcurrentHashMap<>();
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private volatile HttpServer server;
    private int port;

    LoopbackHttp() throws IOException {
        start(0);
    }

    private void start(int wanted) throws IOException {
        HttpServer created = HttpServer.create(new InetSocketAddress("127.0.0.1", wanted), 64);
        created.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        created.createContext("/", exchange -> {
            try (exchange) {
                String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                received.add(new Received(exchange.getRequestURI().getPath(), body));
                Answer answer = answers.getOrDefault(exchange.getRequestURI().getPath(), new Answer(404, "no such path"));
                byte[] bytes = answer.body().getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(answer.status(), bytes.length == 0 ? -1 : bytes.length);
                if (bytes.length > 0) {
                    exchange.getResponseBody().write(bytes);
                }
            }
        });
        created.start();
        server = created;
        port = created.getAddress().getPort();
    }

    LoopbackHttp answer(String path, int status, String body) {
        answers.put(path, new Answer(status, body));
        return this;
    }

    int port() {
        return port;
    }

    List<Received> received(String path) {
        return received.stream().filter(r -> r.path().equals(path)).toList();
    }

    /** Closes the listening socket: connections are refused until {@link #restart()}. */
    void stop() {
        HttpServer running = server;
        if (running != null) {
            running.stop(0);
            server = null;
        }
    }

    void restart() throws IOException {
        stop();
        start(port);
    }

    @Override
    public void close() {
        stop();
    }
}
