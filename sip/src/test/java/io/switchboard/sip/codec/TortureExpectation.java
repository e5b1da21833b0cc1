package io.switchboard.sip.codec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One row of {@code torture/expectations.csv}: a torture-test vector from RFC 4475 or RFC 5118 and
 * the outcome that RFC asks of a receiving element.
 *
 * @param file     path of the vector relative to the {@code torture/} resource folder
 * @param rfc      "4475" or "5118"
 * @param section  the RFC section that publishes the message
 * @param title    that section's title
 * @param outcome  what {@link SipParser#parse(byte[])} must do with it
 * @param statuses allowed {@link SipParseException#responseStatus()} values when it is rejected
 * @param notes    free text
 */
record TortureExpectation(String file, String rfc, String section, String title, Outcome outcome,
                          Set<Integer> statuses, String notes) {

    static final String ROOT = "/torture/";

    enum Outcome { ACCEPT, REJECT, ACCEPT_OR_REJECT }

    /** The vector's name without folder and extension, e.g. {@code wsinv}. */
    String name() {
        String base = file.substring(file.lastIndexOf('/') + 1);
        return base.endsWith(".dat") ? base.substring(0, base.length() - 4) : base;
    }

    /** The vector's octets, exactly as stored. */
    byte[] bytes() {
        try (InputStream in = TortureExpectation.class.getResourceAsStream(ROOT + file)) {
            if (in == null) {
                throw new IllegalStateException("missing torture vector " + ROOT + file);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return "RFC " + rfc + " §" + section + " " + name();
    }

    static List<TortureExpectation> load() {
        try (InputStream in = TortureExpectation.class.getResourceAsStream(ROOT + "expectations.csv")) {
            if (in == null) {
                throw new IllegalStateException("missing " + ROOT + "expectations.csv");
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            List<TortureExpectation> rows = new ArrayList<>();
            boolean header = true;
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                if (header) { // column names
                    header = false;
                    continue;
                }
                String[] f = line.split(",", 7);
                if (f.length < 6) {
                    throw new IllegalStateException("bad expectations row: " + line);
                }
                Set<Integer> statuses = new LinkedHashSet<>();
                if (!f[5].isBlank()) {
                    Arrays.stream(f[5].split("/")).map(String::trim).map(Integer::valueOf).forEach(statuses::add);
                }
                rows.add(new TortureExpectation(f[0].trim(), f[1].trim(), f[2].trim(), f[3].trim(),
                        Outcome.valueOf(f[4].trim()), Set.copyOf(statuses), f.length > 6 ? f[6].trim() : ""));
            }
            return List.copyOf(rows);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
