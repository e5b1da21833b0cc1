package io.switchboard.server.cli;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Flags that set config keys; each wins over the YAML file and the environment. */
public final class ConfigOptions {
    @Option(names = "--config", paramLabel = "FILE", description = "YAML config file (optional).")
    Path configFile;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Directory for the SQLite file and admin.token (default ./data; env SWITCHBOARD_DATA_DIR).")
    String dataDir;

    /** Flags by config key, only those given. */
    Map<String, String> flags() {
        Map<String, String> flags = new HashMap<>();
        if (dataDir != null) {
            flags.put("dataDir", dataDir);
        }
        return flags;
    }
}
