package io.switchboard.server.cli;

import picocli.CommandLine.Command;

@Command(mixinStandardHelpOptions = true, name = "admin", description = "Administer a node's data directory or store.")
public final class AdminCommand {
}
