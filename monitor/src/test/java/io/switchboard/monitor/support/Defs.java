package io.switchboard.monitor.support;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.DefinitionReader;
import io.switchboard.monitor.definition.MonitorDefinition;

/** Definitions written as YAML in tests, read by the real reader. */
public final class Defs {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private Defs() {
    }

    public static MonitorDefinition monitor(String yaml) {
        try {
            return DefinitionReader.monitor(YAML.readTree(yaml));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    public static ChannelDefinition channel(String yaml) {
        try {
            return DefinitionReader.channel(YAML.readTree(yaml));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
