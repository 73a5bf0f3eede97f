/**
 * Kafka's `ssl.principal.mapping.rules` (KIP-371): how the distinguished name of a client's TLS certificate becomes its
 * principal's name. Rules are tried in order: `RULE:pattern/replacement/` applies where the pattern matches the whole
 * name (a trailing `L` or `U` lowers or raises the result's case), `DEFAULT` takes the name as it is. A name that no
 * rule matches is refused, as Kafka refuses the client's authentication.
 */
export type PrincipalMapper = (distinguishedName: string) => string | null;

interface Rule {
  pattern: RegExp | null; // null: DEFAULT
  replacement: string;
  letterCase: '' | 'L' | 'U';
}

/** Kafka's default: the whole distinguished name. */
export const DEFAULT_PRINCIPAL_MAPPING = 'DEFAULT';

/** Parses the rules, or throws an Error that says which part is wrong. */
export function principalMapper(rules: string): PrincipalMapper {
  const parsed = parseRules(rules);
  return (name) => {
    for (const rule of parsed) {
      if (rule.pattern === null) return name;
      if (!rule.pattern.test(name)) continue;
      const mapped = name.replace(rule.pattern, rule.replacement);
      return rule.letterCase === 'L' ? mapped.toLowerCase() : rule.letterCase === 'U' ? mapped.toUpperCase() : mapped;
    }
    return null;
  };
}

function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  let at = 0;
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++;
  };
  /** A part up to the next unescaped `/`, its escapes kept (the pattern's are the regex's own). */
  const part = (what: string): string => {
    let out = '';
    while (at < text.length && text[at] !== '/') {
      if (text[at] === '\\' && at + 1 < text.length) out += text[at++];
      out += text[at++];
    }
    if (text[at] !== '/') throw new Error(`principal mapping rule ${rules.length + 1}: its ${what} has no closing /`);
    at++;
    return out;
  };
  skipSpace();
  while (at < text.length) {
    if (text.startsWith('DEFAULT', at)) {
      at += 'DEFAULT'.length;
      rules.push({ pattern: null, replacement: '', letterCase: '' });
    } else if (text.startsWith('RULE:', at)) {
      at += 'RULE:'.length;
      const source = part('pattern');
      const replacement = part('replacement');
      const letterCase = text[at] === 'L' || text[at] === 'U' ? (text[at++] as 'L' | 'U') : '';
      let pattern: RegExp;
      try {
        pattern = new RegExp(`^(?:${source})$`);
      } catch (err) {
        throw new Error(`principal mapping rule ${rules.length + 1}: ${(err as Error).message}`);
      }
      rules.push({ pattern, replacement: javaReplacement(replacement), letterCase });
    } else {
      throw new Error(`principal mapping rule ${rules.length + 1} must be DEFAULT or RULE:pattern/replacement/[L|U], got ${JSON.stringify(text.slice(at))}`);
    }
    skipSpace();
    if (at < text.length) {
      if (text[at] !== ',') throw new Error(`principal mapping rules are separated by commas; after rule ${rules.length} came ${JSON.stringify(text.slice(at))}`);
      at++;
      skipSpace();
    }
  }
  if (rules.length === 0) throw new Error('principal mapping rules cannot be empty (DEFAULT takes the whole name)');
  return rules;
}

/** A Java replacement string (`$1` a group, `\x` the character x) as JavaScript's replace reads one (`$$` a dollar). */
function javaReplacement(java: string): string {
  let out = '';
  for (let i = 0; i < java.length; i++) {
    const c = java[i]!;
    if (c === '\\' && i + 1 < java.length) {
      const escaped = java[++i]!;
      out += escaped === '$' ? '$$' : escaped;
    } else {
      out += c;
    }
  }
  return out;
}
