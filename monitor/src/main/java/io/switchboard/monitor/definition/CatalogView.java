package io.switchboard.monitor.definition;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The definitions a running node works from, at one revision: immutable, swapped whole when the store changes. */
public record CatalogView(long revision, Map<String, MonitorDefinition> monitors, Map<String, ChannelDefinition> channels,
                          List<MaintenanceWindow> maintenance) {
    public CatalogView {
        monitors = Map.copyOf(monitors);
        channels = Map.copyOf(channels);
        maintenance = List.copyOf(maintenance);
    }

    public static CatalogView empty() {
        return new CatalogView(-1, Map.of(), Map.of(), List.of());
    }

    public static CatalogView of(long revision, Catalog catalog) {
        Map<String, MonitorDefinition> monitors = new LinkedHashMap<>();
        catalog.monitors().forEach(m -> monitors.put(m.name(), m));
        Map<String, ChannelDefinition> channels = new LinkedHashMap<>();
        catalog.channels().forEach(c -> channels.put(c.name(), c));
        return new CatalogView(revision, monitors, channels, catalog.maintenance());
    }

    public Optional<MonitorDefinition> monitor(String name) {
        return Optional.ofNullable(monitors.get(name));
    }

    /** The monitor's channels that exist, in its order. */
    public List<ChannelDefinition> channelsOf(MonitorDefinition monitor) {
        List<ChannelDefinition> out = new ArrayList<>();
        for (String name : monitor.channels()) {
            ChannelDefinition c = channels.get(name);
            if (c != null) {
                out.add(c);
            }
        }
        return out;
    }

    /** The maintenance window covering the monitor now, if any. */
    public Optional<MaintenanceWindow> maintenanceFor(String monitor, Instant now) {
        return maintenance.stream().filter(w -> w.covers(monitor, now)).findFirst();
    }
}
