package io.switchboard.monitor.definition;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Status codes a check accepts, written as single codes ({@code 200}), classes ({@code 2xx}) or
 * ranges ({@code 200-299}). Kept as written, so an exported file says what the operator wrote.
 */
public record StatusSet(List<String> items, List<int[]> ranges) {
    private static final Pattern RANGE = Pattern.compile("(\\d{3})\\s*-\\s*(\\d{3})");
    private static final Pattern CLASS = Pattern.compile("([1-6])xx");

    public static final StatusSet SUCCESS = parse(List.of("200-299"), 100, 599);

    public StatusSet {
        items = List.copyOf(items);
        ranges = List.copyOf(ranges);
    }

    /**
     * @param min lowest code allowed (HTTP 100, SIP 100)
     * @param max highest code allowed (HTTP 599, SIP 699)
     * @throws IllegalArgumentException naming the item that is not a code, class or range
     */
    public static StatusSet parse(List<String> written, int min, int max) {
        if (written.isEmpty()) {
            throw new IllegalArgumentException("needs at least one status code, class (2xx) or range (200-299)");
        }
        List<int[]> ranges = new ArrayList<>();
        List<String> items = new ArrayList<>();
        for (String raw : written) {
            String item = raw.strip().toLowerCase(java.util.Locale.ROOT);
            int low;
            int high;
            Matcher range = RANGE.matcher(item);
            Matcher cls = CLASS.matcher(item);
            if (item.matches("\\d{3}")) {
                low = high = Integer.parseInt(item);
            } else if (range.matches()) {
                low = Integer.parseInt(range.group(1));
                high = Integer.parseInt(range.group(2));
            } else if (cls.matches()) {
                low = Integer.parseInt(cls.group(1)) * 100;
                high = low + 99;
            } else {
                throw new IllegalArgumentException("\"" + raw + "\" is not a status code, class (2xx) or range (200-299)");
            }
            if (low > high) {
                throw new IllegalArgumentException("\"" + raw + "\" runs backwards; write the lower code first, e.g. "
                        + high + "-" + low);
            }
            if (low < min || high > max) {
                throw new IllegalArgumentException("\"" + raw + "\" is outside " + min + "-" + max);
            }
            ranges.add(new int[]{low, high});
            items.add(item);
        }
        return new StatusSet(items, ranges);
    }

    public boolean contains(int status) {
        for (int[] r : ranges) {
            if (status >= r[0] && status <= r[1]) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return String.join(", ", items);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StatusSet other && other.items.equals(items);
    }

    @Override
    public int hashCode() {
        return items.hashCode();
    }
}
