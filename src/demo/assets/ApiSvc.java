package com.acme;

import java.nio.file.*;
import java.util.*;

/**
 * The demo's api-svc: five tenants with their sessions; tenant-05's sessions are never released
 * and it gets five times as many. usage: java com.acme.ApiSvc READY_FILE (writes READY_FILE,
 * grows once READY_FILE.go exists, then writes READY_FILE.2 and waits to be stopped).
 */
final class Session {
    final String id;
    final byte[] payload = new byte[256];
    Session(String id) { this.id = id; }
}

/** Top-level, so the tenant rule is com.acme.Tenant.name as for the synthetic dumps. */
final class Tenant {
    final String name;
    final List<Session> sessions = new ArrayList<>();
    Tenant(String name) { this.name = name; }
}

public class ApiSvc {
    static final Map<String, Tenant> TENANTS = new LinkedHashMap<>();
    static long seq = 0;

    static void serve(int perTenant) {
        for (Tenant t : TENANTS.values()) {
            int n = t.name.equals("tenant-05") ? perTenant * 5 : perTenant;
            for (int i = 0; i < n; i++) t.sessions.add(new Session(t.name + "-" + (seq++)));
        }
    }

    public static void main(String[] args) throws Exception {
        for (int i = 1; i <= 5; i++) TENANTS.put("tenant-0" + i, new Tenant("tenant-0" + i));
        serve(200);
        Path ready = Path.of(args[0]);
        Files.writeString(ready, "ready");
        Path go = Path.of(args[0] + ".go");
        while (!Files.exists(go)) Thread.sleep(50);
        serve(400);
        Files.writeString(Path.of(args[0] + ".2"), "ready");
        Thread.sleep(Long.MAX_VALUE);
    }
}
