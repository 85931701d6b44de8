#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it as a user would: the installed program
# runs, `man -l` renders the installed page, and bash-completion finds and loads the installed
# completion. Also checks that the page and the completion name every command and every option
# the program's --help lists, so they cannot drift from it.
#
#   packaging/install_test.sh BUILD_DIR
set -euo pipefail
BUILD=$1
PREFIX=$(mktemp -d /tmp/sluice-install-test.XXXXXX)
trap 'rm -rf "$PREFIX"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
SLUICE=$PREFIX/bin/sluice
for file in bin/sluice share/man/man1/sluice.1.gz share/bash-completion/completions/sluice \
  share/doc/sluice-osc/README.md share/doc/sluice-osc/docs/control.md \
  share/doc/sluice-osc/docs/exit-codes.md; do
  [[ -f $PREFIX/$file ]] || fail "$file is not installed"
done

version=$("$SLUICE" --version)
[[ $version =~ ^sluice\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "installed sluice --version: '$version'"

mapfile -t commands < <("$SLUICE" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')
[[ ${#commands[@]} -ge 10 ]] || fail "sluice --help lists ${#commands[@]} commands"
options_of() {
  "$SLUICE" "$1" --help | awk '/^  -/ {
    line = $0; sub(/^  /, "", line)
    if (match(line, /  +/)) line = substr(line, 1, RSTART - 1)
    n = split(line, word, " ")
    for (i = 1; i <= n; i++) if (word[i] ~ /^--[a-z]/) print word[i]
  }'
}

# The page renders without groff warnings, and names every command and option.
warnings=$(MANWIDTH=100 man --warnings -l "$PREFIX/share/man/man1/sluice.1.gz" 2>&1 >/dev/null)
[[ -z $warnings ]] || fail "man reports: $warnings"
page=$(MANWIDTH=100 MAN_KEEP_FORMATTING=0 man -l "$PREFIX/share/man/man1/sluice.1.gz" 2>/dev/null |
  col -b)
grep -q "^SLUICE(1)" <<<"$page" || fail "the page has no SLUICE(1) header"
grep -qF "$version" <<<"$page" || fail "the page does not name $version"
for command in "${commands[@]}"; do
  section=$(awk -v c="$command" '$0 == "   " c {on = 1; next} on && /^   [a-z]/ {exit} on' <<<"$page")
  [[ -n $section ]] || fail "the page has no section for '$command'"
  for option in $(options_of "$command"); do
    grep -qF -- "$option" <<<"$section" || fail "the page's '$command' section lacks $option"
  done
done
for code in 0 1 2 3 4 5 6 7 130; do
  grep -qE "^       $code +[a-z]" <<<"$page" || fail "the page's EXIT STATUS lacks $code"
done

# bash-completion loads the completion on demand from PREFIX/share/bash-completion/completions
# when PREFIX/share is in XDG_DATA_DIRS (by default /usr/local/share and /usr/share are); then
# _sluice completes commands and each command's options.
complete_words() {
  XDG_DATA_DIRS="$PREFIX/share" PATH="$PREFIX/bin:$PATH" bash --norc --noprofile -c '
    source /usr/share/bash-completion/bash_completion
    __load_completion sluice || { echo "no completion loaded"; exit 1; }
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    $(complete -p sluice | sed -E "s/.*-F ([^ ]+) .*/\1/") sluice "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
    printf "%s\n" "${COMPREPLY[@]}"' completion-test "$@"
}
[[ $(complete_words sluice al) == alter ]] || fail "'sluice al<TAB>' gives '$(complete_words sluice al)'"
[[ $(complete_words sluice alter --exe) == --execute ]] || fail "'sluice alter --exe<TAB>'"
# Every command's options after `--`, in one shell: "COMMAND OPTION" lines.
offered=$(XDG_DATA_DIRS="$PREFIX/share" PATH="$PREFIX/bin:$PATH" bash --norc --noprofile -c '
  source /usr/share/bash-completion/bash_completion
  __load_completion sluice || exit 1
  for command in "$@"; do
    COMP_WORDS=(sluice "$command" --); COMP_CWORD=2
    _sluice sluice -- "$command"
    printf "$command %s\n" "${COMPREPLY[@]}"
  done' completion-test "${commands[@]}")
for command in "${commands[@]}"; do
  for option in $(options_of "$command"); do
    grep -qx -- "$command $option" <<<"$offered" || fail "'sluice $command --<TAB>' lacks $option"
  done
done
# The value of a file option completes file names.
touch "$PREFIX/flag-file"
[[ $(complete_words sluice alter --panic-flag-file "$PREFIX/flag-") == "$PREFIX/flag-file" ]] ||
  fail "'--panic-flag-file PATH<TAB>' does not complete the file name"
echo "PASS: installed sluice, man page and bash completion ($version)"
