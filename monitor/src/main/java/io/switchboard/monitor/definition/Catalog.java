package io.switchboard.monitor.definition;

import java.util.List;

/** Everything an operator defines: channels, monitors, maintenance windows. The monitor file holds one. */
public record Catalog(List<ChannelDefinition> channels, List<MonitorDefinition> monitors,
                      List<MaintenanceWindow> maintenance) {
    public Catalog {
        channels = List.copyOf(channels);
        monitors = List.copyOf(monitors);
        maintenance = List.copyOf(maintenance);
    }

    public static Catalog empty() {
        return new Catalog(List.of(), List.of(), List.of());
    }
}
