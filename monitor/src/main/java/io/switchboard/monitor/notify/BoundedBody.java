package io.switchboard.monitor.notify;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * HTTP answers read with limits, for the module's outgoing calls (webhooks, the Telegram Bot API,
 * the report rewriter): at most a given number of body bytes are kept, the rest is not read (the
 * body's subscription is cancelled, which closes the stream), and the whole exchange, body
 * included, must end within the timeout. {@code BodyHandlers.ofString()} would hold whatever a
 * misbehaving or hostile peer sends, and the request timeout alone stops waiting only for the
 * headers.
 */
public final class BoundedBody {
    private BoundedBody() {
    }

    /** Keeps the first {@code limit} bytes of the body. */
    public static HttpResponse.BodyHandler<byte[]> upTo(int limit) {
        return info -> new Collector(limit);
    }

    /**
     * Sends and waits for the status and the body (its first {@code limit} bytes) together.
     *
     * @throws HttpTimeoutException when the whole answer did not come within {@code timeout}
     * @throws IOException          when the exchange failed
     */
    public static HttpResponse<byte[]> send(HttpClient http, HttpRequest request, int limit, Duration timeout)
            throws IOException, InterruptedException {
        CompletableFuture<HttpResponse<byte[]>> call = http.sendAsync(request, upTo(limit));
        try {
            return call.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            call.cancel(true);
            throw new HttpTimeoutException("no complete answer within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            call.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException(cause == null ? e.toString() : cause.toString(), cause);
        }
    }

    private static final class Collector implements HttpResponse.BodySubscriber<byte[]> {
        private final int limit;
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private Flow.Subscription subscription;

        Collector(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer buffer : items) {
                int take = Math.min(buffer.remaining(), limit - kept.size());
                byte[] chunk = new byte[take];
                buffer.get(chunk);
                kept.write(chunk, 0, take);
            }
            if (kept.size() >= limit) {
                subscription.cancel();
                body.complete(kept.toByteArray());
            } else {
                subscription.request(1);
            }
        }

        @Override
        public void onError(Throwable error) {
            body.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            body.complete(kept.toByteArray());
        }
    }
}
