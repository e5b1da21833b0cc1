package io.switchboard.monitor.definition;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * The monitor file's YAML form: {@code channels}, {@code monitors}, {@code maintenance}. What
 * {@link #write} gives, {@link #read} reads back to the same catalog.
 */
public final class CatalogFile {
    /**
     * The largest file read, in characters. SnakeYAML's default (3 MB) is about 10,000 monitors of
     * the exported form; this allows about 200,000, and still refuses a file that is not a
     * monitor file at all before it fills the heap.
     */
    public static final int MAX_CHARACTERS = 64 * 1024 * 1024;
    private static final ObjectMapper YAML = new ObjectMapper(YAMLFactory.builder()
            .loaderOptions(loaderOptions())
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
            // a key written twice (two intervals, say) is a mistake, not "the last one wins" in silence
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build());

    private static LoaderOptions loaderOptions() {
        LoaderOptions options = new LoaderOptions();
        options.setCodePointLimit(MAX_CHARACTERS);
        return options;
    }

    private CatalogFile() {
    }

    /**
     * @param knownChannels channels that exist already, which monitors may use without the file defining them
     * @throws DefinitionException naming the item and field at fault, or the line of a YAML syntax error
     */
    public static Catalog read(String text, Set<String> knownChannels) {
        JsonNode root;
        try {
            root = text.isBlank() ? null : YAML.readTree(text);
        } catch (JsonProcessingException e) {
            String problem = io.switchboard.platform.config.NodeConfigLoader.yamlProblem(e.getOriginalMessage());
            if (problem.startsWith("special characters are not allowed")) {
                // SnakeYAML checks the characters as it buffers them and says line 1, column 1
                // wherever one is: where it is and which it is is what there is to say
                String where = firstUnreadable(text);
                if (where != null) {
                    throw DefinitionException.invalid(null, "not valid YAML at " + where);
                }
            }
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr();
            throw DefinitionException.invalid(null, "not valid YAML" + where + ": " + problem);
        }
        if (text.indexOf('*') >= 0) {
            refuseAliases(text);
        }
        return DefinitionReader.catalog(root, knownChannels);
    }

    /**
     * An alias ({@code *name}, repeating what an anchor {@code &name} marked) reaches the reader as
     * the bare word {@code name}, and was reported as a type mistake ("expected a block of keys, got
     * string"): refused as what it is. Looked for only in a file with a {@code *}, by SnakeYAML's
     * own event parser, so one inside quotes or a comment is not taken for one.
     */
    private static void refuseAliases(String text) {
        for (org.yaml.snakeyaml.events.Event event : new org.yaml.snakeyaml.Yaml(loaderOptions())
                .parse(new java.io.StringReader(text))) {
            if (event instanceof org.yaml.snakeyaml.events.AliasEvent alias) {
                org.yaml.snakeyaml.error.Mark mark = alias.getStartMark();
                throw DefinitionException.invalid(null, "line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1)
                        + ": *" + alias.getAnchor() + " is a YAML alias, which a monitor file does not use; write the entry"
                        + " or value out in full");
            }
        }
    }

    /** Where the first character YAML does not allow is (a control character, say), and which; null for none. */
    private static String firstUnreadable(String text) {
        int line = 1;
        int column = 1;
        for (int i = 0; i < text.length(); ) {
            int c = text.codePointAt(i);
            if (!org.yaml.snakeyaml.reader.StreamReader.isPrintable(c)) {
                return "line " + line + ", column " + column + ": the character U+" + String.format("%04X", c)
                        + (Character.isISOControl(c) ? " (a control character)" : "") + " is not allowed in YAML";
            }
            if (c == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
            i += Character.charCount(c);
        }
        return null;
    }

    /** The catalog as YAML, secrets included: this is the file to import again, keep it private. */
    public static String write(Catalog catalog) {
        try {
            return YAML.writeValueAsString(DefinitionWriter.catalog(catalog, DefinitionWriter.Secrets.REVEAL));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the catalog as YAML", e);
        }
    }
}
