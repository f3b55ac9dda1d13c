package dev.oqp.queue.server;

import java.io.EOFException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Components;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.Context;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Invocable;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * A client's exchange without a server: a Jetty {@link Request} with a whole body, a {@link Response} that records
 * what is written, and a {@link Callback} that records how it completed. Methods the pipeline is not expected to
 * call throw, so a test shows at once when the code under test starts to need more.
 */
final class FakeExchange {
    final HttpFields.Mutable requestHeaders = HttpFields.build();
    final HttpFields.Mutable responseHeaders = HttpFields.build();
    private final String method;
    private final String path;
    private final byte[] body;
    private final Map<String, Object> attributes = new HashMap<>();
    private final List<Consumer<Throwable>> failureListeners = new ArrayList<>();
    private boolean bodyRead;
    /** When set, reading the body fails with it (after no bytes): see {@link #failBody}. */
    private volatile Throwable bodyFailure;
    /** When set, every write fails with it and nothing is written: see {@link #clientReset}. */
    private volatile Throwable writeFailure;
    volatile int status = 200;
    volatile byte[] written;
    final AtomicInteger completions = new AtomicInteger();
    volatile Throwable failure;
    final Request request;
    final Response response;
    final Callback callback;

    FakeExchange(String method, String path, String body, String... headers) {
        this.method = method;
        this.path = path;
        this.body = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i + 1 < headers.length; i += 2) {
            requestHeaders.add(headers[i], headers[i + 1]);
        }
        this.request = proxy(Request.class, (p, m, args) -> switch (m.getName()) {
            case "getHeaders" -> requestHeaders;
            case "getMethod" -> this.method;
            case "getHttpURI" -> HttpURI.from("http://localhost:11435" + this.path);
            case "getLength" -> (long) this.body.length;
            case "setAttribute" -> attributes.put((String) args[0], args[1]);
            case "getAttribute" -> attributes.get((String) args[0]);
            case "addFailureListener" -> failureListeners.add(cast(args[0]));
            case "addIdleTimeoutListener" -> null;
            case "read" -> read();
            case "demand" -> {
                ((Runnable) args[0]).run();
                yield null;
            }
            case "getContext" -> proxy(Context.class, (c, cm, cargs) -> switch (cm.getName()) {
                case "getPathInContext" -> cargs[0];
                default -> throw new UnsupportedOperationException("Context." + cm.getName());
            });
            case "getComponents" -> proxy(Components.class, (c, cm, cargs) -> switch (cm.getName()) {
                // A timer that never fires: the fake's body is all there at once, so a drain never waits.
                case "getScheduler" -> proxy(Scheduler.class, (t, tm, targs) -> switch (tm.getName()) {
                    case "schedule" -> proxy(Scheduler.Task.class, (k, km, kargs) -> false);
                    default -> throw new UnsupportedOperationException("Scheduler." + tm.getName());
                });
                default -> throw new UnsupportedOperationException("Components." + cm.getName());
            });
            case "getConnectionMetaData" -> proxy(ConnectionMetaData.class, (c, cm, cargs) -> switch (cm.getName()) {
                // No network connection: nothing to watch while queued.
                case "getConnection" -> proxy(Connection.class, (x, xm, xargs) -> null);
                default -> throw new UnsupportedOperationException("ConnectionMetaData." + cm.getName());
            });
            case "toString" -> "FakeRequest " + this.method + " " + this.path;
            case "hashCode" -> System.identityHashCode(p);
            case "equals" -> p == args[0];
            default -> throw new UnsupportedOperationException("Request." + m.getName());
        });
        this.response = proxy(Response.class, (p, m, args) -> switch (m.getName()) {
            case "getHeaders" -> responseHeaders;
            case "setStatus" -> {
                status = (int) args[0];
                yield null;
            }
            case "getStatus" -> status;
            case "isCommitted" -> written != null;
            case "write" -> {
                if (writeFailure != null) {
                    ((Callback) args[2]).failed(writeFailure);
                    yield null;
                }
                ByteBuffer buffer = (ByteBuffer) args[1];
                byte[] bytes = new byte[buffer == null ? 0 : buffer.remaining()];
                if (buffer != null) {
                    buffer.get(bytes);
                }
                written = bytes;
                ((Callback) args[2]).succeeded();
                yield null;
            }
            case "toString" -> "FakeResponse";
            case "hashCode" -> System.identityHashCode(p);
            case "equals" -> p == args[0];
            default -> throw new UnsupportedOperationException("Response." + m.getName());
        });
        this.callback = new Callback() {
            @Override
            public void succeeded() {
                completions.incrementAndGet();
            }

            @Override
            public void failed(Throwable x) {
                failure = x;
                completions.incrementAndGet();
            }

            @Override
            public Invocable.InvocationType getInvocationType() {
                return Invocable.InvocationType.NON_BLOCKING;
            }
        };
    }

    private Content.Chunk read() {
        if (bodyFailure != null) {
            return Content.Chunk.from(bodyFailure);
        }
        if (bodyRead) {
            return Content.Chunk.EOF;
        }
        bodyRead = true;
        return Content.Chunk.from(ByteBuffer.wrap(body), true);
    }

    /** Reading the body fails with {@code failure}: what Jetty's connection hands the reader. */
    FakeExchange failBody(Throwable failure) {
        bodyFailure = failure;
        return this;
    }

    /** The client's connection was reset: writes to it fail, as the socket's do after a reset. */
    FakeExchange clientReset() {
        writeFailure = new EofException("Connection reset by peer");
        return this;
    }

    /** The client goes away: what Jetty tells a request's failure listeners. */
    void clientLeaves() {
        Throwable gone = new EOFException("client left");
        new ArrayList<>(failureListeners).forEach(l -> l.accept(gone));
    }

    String writtenText() {
        return written == null ? null : new String(written, StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static <T> T cast(Object o) {
        return (T) o;
    }

    private static <T> T proxy(Class<T> type, InvocationHandler handler) {
        return type.cast(Proxy.newProxyInstance(FakeExchange.class.getClassLoader(), new Class<?>[] {type}, handler));
    }
}
