package dev.oqp.common.proxy;

import java.io.IOException;

/** Reading the client's request body failed: the client stalled or went away, the upstream did nothing wrong. */
final class ClientBodyException extends IOException {
    ClientBodyException(Throwable cause) {
        super("client request body: " + cause, cause);
    }
}
