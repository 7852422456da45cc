# Sourced by the check-*-catches-bugs.sh scripts: builds a copy of the project with one deliberate
# bug in it, in a directory of its own (the working tree is never touched).
#   build_mutant ROOT DIR FILE OLD NEW   -> DIR holds the built copy; exits 2 if OLD is not found once
build_mutant() {
  local root=$1 dir=$2 file=$3 old=$4 new=$5
  mkdir -p "$dir"
  cp -r "$root/src" "$root/test" "$root/scripts" "$root/bin" "$root/tsconfig.json" "$root/package.json" "$dir/"
  ln -s "$root/node_modules" "$dir/node_modules"
  OLD=$old NEW=$new node -e '
    const fs = require("fs"); const p = process.argv[1]; const s = fs.readFileSync(p, "utf8");
    const n = s.split(process.env.OLD).length - 1;
    if (n !== 1) { console.error(`mutation text found ${n} times in ${p}`); process.exit(2); }
    fs.writeFileSync(p, s.replace(process.env.OLD, process.env.NEW));' "$dir/$file"
  (cd "$dir" && npx tsc -p . >/dev/null)
}
