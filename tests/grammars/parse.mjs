// Reads a JSON list of queries on stdin and writes, for each, null when the grammar named by the first
// argument parses it without an error node, else where the first error is. Run by errors() in
// __init__.py, from a directory where the vendored modules are laid out as node_modules.
const { parser } = await import(process.argv[2]);

let input = "";
for await (const chunk of process.stdin) input += chunk;

const answers = JSON.parse(input).map((query) => {
  let first = null;
  parser.parse(query).iterate({
    enter(node) {
      if (first === null && node.type.isError) first = node.from;
      return first === null;
    },
  });
  return first === null ? null : `error at position ${first}: ${JSON.stringify(query.slice(first, first + 30))}`;
});
process.stdout.write(JSON.stringify(answers));
