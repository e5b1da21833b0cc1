package io.switchboard.monitor.definition;

import java.util.List;
import java.util.Map;

/** The settings of one check type, validated. Defaults are filled in; the writer leaves them out again. */
public sealed interface CheckOptions {

    /**
     * @param headers      request headers, in the order written
     * @param expectStatus accepted final status (after redirects)
     * @param maxRedirects redirects followed (0: none; a redirect is then the final answer)
     * @param keyword      text the body must contain, or null
     * @param jsonPath     a JSONPath (Jayway syntax, e.g. {@code $.status}) that must match in a JSON body, or null
     * @param jsonValue    the value the path must have (compared as text), or null for "exists and is not false/null"
     * @param caFile       PEM file of extra trusted certificates for https targets, or null
     */
    record Http(String method, Map<String, String> headers, String body, StatusSet expectStatus, int maxRedirects,
                String keyword, String jsonPath, String jsonValue, String caFile) implements CheckOptions {
        public static final String DEFAULT_METHOD = "GET";
        public static final int DEFAULT_MAX_REDIRECTS = 5;

        public Http {
            headers = Map.copyOf(headers);
        }
    }

    /**
     * @param recordType   A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR or CAA
     * @param expectValues values that must all be among the answers (names without the final dot), may be empty
     * @param expectRcode  the response code expected (NOERROR by default; NXDOMAIN to assert a name is gone)
     * @param resolver     "host" or "host:port" of the server to ask, or null for the system's resolvers
     */
    record Dns(String recordType, List<String> expectValues, String expectRcode, String resolver) implements CheckOptions {
        public Dns {
            expectValues = List.copyOf(expectValues);
        }
    }

    /**
     * @param warnDays     DEGRADED when the leaf certificate expires within this many days
     * @param criticalDays DOWN when it expires within this many days
     * @param serverName   the name sent in SNI and matched against the certificate (default: the target host)
     * @param caFile       PEM file of extra trusted certificates (a private CA), or null
     */
    record Tls(int warnDays, int criticalDays, String serverName, String caFile) implements CheckOptions {
        public static final int DEFAULT_WARN_DAYS = 14;
        public static final int DEFAULT_CRITICAL_DAYS = 3;
    }

    record Tcp() implements CheckOptions {
    }

    /**
     * @param transport    udp or tcp
     * @param expectStatus accepted final responses, or null for "any final response means alive"
     */
    record Sip(String transport, StatusSet expectStatus) implements CheckOptions {
    }
}
