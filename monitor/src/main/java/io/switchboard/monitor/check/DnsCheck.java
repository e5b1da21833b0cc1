package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.CheckOptions;
import io.switchboard.monitor.definition.DurationText;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.definition.Targets;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * DNS check with dnsjava: one query of the configured type to the configured resolver (or the
 * system's), then the response code (RFC 1035 §4.1.1, RFC 6895 §2.3) and the answers compared with
 * what is expected. dnsjava retries over TCP when the UDP answer is truncated (RFC 7766 §5).
 */
public final class DnsCheck implements Check {
    private final Clock clock;

    public DnsCheck(Clock clock) {
        this.clock = clock;
    }

    @Override
    public CheckResult run(MonitorDefinition monitor) {
        CheckOptions.Dns options = (CheckOptions.Dns) monitor.options();
        Instant startedAt = clock.instant();
        long begin = System.nanoTime();
        List<String> worked = new ArrayList<>();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("recordType", options.recordType());
        String server = options.resolver() == null ? "the system's DNS resolver" : "the DNS server " + options.resolver();
        Message response;
        try {
            Resolver resolver = resolver(options);
            resolver.setTimeout(monitor.timeout());
            Name name = Name.fromString(monitor.target(), Name.root);
            int type = Type.value(options.recordType());
            response = resolver.send(Message.newQuery(Record.newRecord(name, type, DClass.IN)));
        } catch (TextParseException e) {
            return CheckResult.down(startedAt, elapsed(begin), "\"" + monitor.target() + "\" is not a domain name", worked, details);
        } catch (IOException e) {
            String message = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
            String error;
            if (message.contains("timed out") || e instanceof java.net.SocketTimeoutException) {
                error = server + " did not answer within " + DurationText.spoken(monitor.timeout());
            } else if (e instanceof java.net.PortUnreachableException) {
                // ICMP port unreachable: the host answered that nothing listens there (the exception has no message)
                error = server + " could not be asked: nothing listens on its UDP port (the host said the port is closed)";
            } else {
                error = server + " could not be asked: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
            }
            return CheckResult.down(startedAt, elapsed(begin), error, worked, details);
        }
        long latency = elapsed(begin);
        String rcode = Rcode.string(response.getRcode());
        details.put("rcode", rcode);
        List<String> values = new ArrayList<>();
        for (Record record : response.getSection(Section.ANSWER)) {
            if (record.getType() == Type.value(options.recordType())) {
                values.add(value(record));
            }
        }
        details.put("answers", values);
        worked.add(server + " answered (" + rcode + ") in " + latency + " ms");
        if (!rcode.equals(options.expectRcode())) {
            return CheckResult.down(startedAt, latency, server + " answered " + rcode + " (" + meaning(rcode) + ") for "
                    + monitor.target() + "; expected " + options.expectRcode(), worked, details);
        }
        if (rcode.equals("NOERROR")) {
            if (values.isEmpty()) {
                return CheckResult.down(startedAt, latency, monitor.target() + " has no " + options.recordType() + " records",
                        worked, details);
            }
            List<String> normalized = values.stream().map(v -> normalize(v, options.recordType())).toList();
            List<String> missing = options.expectValues().stream()
                    .filter(v -> !normalized.contains(normalize(v, options.recordType()))).toList();
            if (!missing.isEmpty()) {
                return CheckResult.down(startedAt, latency, monitor.target() + " " + options.recordType() + " is "
                        + String.join(", ", values) + "; expected " + String.join(", ", options.expectValues()), worked, details);
            }
            worked.add(monitor.target() + " " + options.recordType() + " is " + String.join(", ", values));
        }
        if (monitor.degradedAbove() != null && latency > monitor.degradedAbove().toMillis()) {
            return new CheckResult(CheckStatus.DEGRADED, startedAt, latency, "answered in " + latency + " ms, slower than the "
                    + DurationText.spoken(monitor.degradedAbove()) + " threshold", worked, details);
        }
        return new CheckResult(CheckStatus.UP, startedAt, latency, null, worked, details);
    }

    private static Resolver resolver(CheckOptions.Dns options) throws IOException {
        if (options.resolver() == null) {
            return new ExtendedResolver();
        }
        Targets.HostAndPort hp = Targets.hostAndPort(options.resolver(), 53);
        return new SimpleResolver(new InetSocketAddress(hp.host(), hp.port() < 0 ? 53 : hp.port()));
    }

    static String value(Record record) {
        return switch (record) {
            case ARecord a -> a.getAddress().getHostAddress();
            case AAAARecord a -> a.getAddress().getHostAddress();
            case TXTRecord t -> String.join("", t.getStrings());
            default -> stripDots(record.rdataToString());
        };
    }

    private static String normalize(String value, String type) {
        if (type.equals("TXT")) {
            return value;
        }
        if (type.equals("AAAA")) {
            try {
                return java.net.InetAddress.getByName(value).getHostAddress();
            } catch (IOException e) {
                return value.toLowerCase(Locale.ROOT);
            }
        }
        return stripDots(value.strip()).toLowerCase(Locale.ROOT);
    }

    private static String stripDots(String text) {
        StringBuilder out = new StringBuilder();
        for (String token : text.split(" ")) {
            if (!out.isEmpty()) {
                out.append(' ');
            }
            out.append(token.length() > 1 && token.endsWith(".") ? token.substring(0, token.length() - 1) : token);
        }
        return out.toString();
    }

    private static String meaning(String rcode) {
        return switch (rcode) {
            case "NXDOMAIN" -> "the name does not exist";
            case "SERVFAIL" -> "the server failed to find an answer";
            case "REFUSED" -> "the server refuses to answer this question";
            case "FORMERR" -> "the server did not understand the question";
            case "NOTIMP" -> "the server does not support this question";
            case "NOERROR" -> "the name exists";
            default -> "an unusual answer";
        };
    }

    private static long elapsed(long begin) {
        return (System.nanoTime() - begin) / 1_000_000;
    }
}
