package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.MonitorDefinition;

/**
 * One kind of check. Runs on a virtual thread and may block; must finish within the monitor's
 * timeout (plus a little) and report every failure as a DOWN result rather than throw.
 */
public interface Check {
    CheckResult run(MonitorDefinition monitor) throws InterruptedException;
}
