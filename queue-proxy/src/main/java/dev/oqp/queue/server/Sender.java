package dev.oqp.queue.server;

/** Where a request that has its host goes to be sent upstream (the {@link Forwarder}; a recorder in tests). */
interface Sender {

    /** Sends {@code call} to {@link Call#host()}; the sender ends the call, through {@link Call#complete}, once. */
    void send(Call call);
}
