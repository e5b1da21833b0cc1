package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.definition.MonitorDefinition;
import java.time.Clock;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs a monitor's check by its type; a check that throws still yields a DOWN result that says so. */
public final class CheckRunner {
    private static final Logger log = LoggerFactory.getLogger(CheckRunner.class);

    private final Map<CheckType, Check> checks = new EnumMap<>(CheckType.class);
    private final Clock clock;

    public CheckRunner(Clock clock) {
        this.clock = clock;
        CertificateTrust trust = new CertificateTrust();
        checks.put(CheckType.HTTP, new HttpCheck(trust, clock));
        checks.put(CheckType.DNS, new DnsCheck(clock));
        checks.put(CheckType.TLS, new TlsCheck(trust, clock));
        checks.put(CheckType.TCP, new TcpCheck(clock));
        checks.put(CheckType.SIP, new SipOptionsCheck(clock));
    }

    /** Also for tests: a runner with one check replaced. */
    public CheckRunner with(CheckType type, Check check) {
        checks.put(type, check);
        return this;
    }

    public CheckResult run(MonitorDefinition monitor) throws InterruptedException {
        long begin = System.nanoTime();
        try {
            return checks.get(monitor.type()).run(monitor);
        } catch (InterruptedException e) {
            throw e;
        } catch (RuntimeException | Error e) {
            if (e instanceof VirtualMachineError vme) {
                throw vme;
            }
            log.warn("{} check of {} failed unexpectedly", monitor.type().wireName(), monitor.name(), e);
            return CheckResult.down(clock.instant().minusNanos(System.nanoTime() - begin),
                    (System.nanoTime() - begin) / 1_000_000, "the check itself failed (" + e + "); the node's log has details",
                    List.of(), Map.of());
        }
    }
}
