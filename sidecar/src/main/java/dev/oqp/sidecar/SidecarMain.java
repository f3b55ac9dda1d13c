package dev.oqp.sidecar;

public final class SidecarMain {
    private SidecarMain() {
    }

    public static void main(String[] args) {
        System.exit(1);
    }
}
