/**
 * A file-name glob (`*`, `?`, `[abc]`, `[!a-z]`) as an anchored RegExp whose capture groups are the parts the
 * wildcards matched: pairing uses them to find the image a label map belongs to.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      while (glob[i + 1] === '*') i++;
      re += '(.*?)';
    } else if (c === '?') re += '(.)';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '(' + '[' + body.replace(/\\/g, '\\\\') + ']' + ')';
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

/** The text the wildcards matched, joined, or null when the name does not match. */
export function globCapture(re: RegExp, name: string): string | null {
  const m = re.exec(name);
  return m ? m.slice(1).join('') : null;
}
