// keel completion bash|zsh: a completion script written from the verb table,
// so it offers exactly the verbs, options and option values keel parses.
// Running VMs come from the VM folder (those whose keel run is alive), and
// service names from the running keel itself (keel [--vm VM] ps -q), asked
// only when a service name is what comes next. zsh runs the same function
// through its bash completion layer (bashcompinit), with bash's 0-based arrays.
import type { Completion, OptionSpec, VerbSpec } from '../../api/commands/verb-spec.js';
import { allOptions } from '../../api/commands/verb-spec.js';
import { vmsRoot } from '../run/vm-dir.js';

/** A word safe inside single quotes. */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** What goes in a place: a kind of completion, or fixed words. */
type Place = Completion | { words: readonly string[] };

function call(place: Place): string {
  return typeof place === 'object' ? `__keel_words ${quote(place.words.join(' '))}` : `__keel_${place}`;
}

/** What each argument of a verb is, place by place; the last place stands for any after it. */
function places(spec: VerbSpec, verbs: readonly VerbSpec[]): Place[] {
  let at: Place[];
  if (spec.name === 'kernel') at = [{ words: ['fetch'] }];
  else if (spec.name === 'completion') at = [{ words: ['bash', 'zsh'] }];
  else if (spec.name === 'help') at = [{ words: verbs.map((v) => v.name) }];
  else if (spec.restFrom !== undefined) return [...Array<Place>(spec.restFrom).fill(spec.complete ?? 'none'), 'file'];
  else at = spec.max === 0 ? [] : [spec.complete ?? 'none'];
  return spec.max === undefined ? at : [...at, ...Array<Place>(Math.max(0, spec.max - at.length)).fill('none'), 'none'];
}

const names = (o: OptionSpec) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])];

/** The case arm of a verb: its option words, those that take a value, where arguments become the command's own, and its places. */
function verbArm(spec: VerbSpec, index: number, verbs: readonly VerbSpec[]): string {
  const options = allOptions(spec);
  return [
    `    ${quote(spec.name)})`,
    `      opts=${quote(options.flatMap(names).join(' '))}; valued=${quote(options.filter((o) => o.value !== undefined).flatMap(names).join(' '))}`,
    `      rest=${spec.restFrom ?? -1}; values=__keel_values_${index}; places=(${places(spec, verbs).map((p) => quote(call(p))).join(' ')}) ;;`,
  ].join('\n');
}

/** A verb's option values: completes the value of option $1, or fails when $1 takes none. */
function valuesFunction(spec: VerbSpec, index: number): string {
  const arms = allOptions(spec)
    .filter((o) => o.value !== undefined)
    .map((o) => `    ${names(o).join('|')}) ${call(o.choices ? { words: o.choices } : (o.complete ?? 'none'))} ;;`);
  return [`__keel_values_${index}() {`, '  case $1 in', ...arms, '    *) return 1 ;;', '  esac', '}'].join('\n');
}

/** The helpers each place calls; each fills COMPREPLY for $cur. */
function helpers(keel: string): string {
  return `__keel_words() { COMPREPLY=($(compgen -W "$1" -- "$cur")); }
__keel_none() { COMPREPLY=(); }
__keel_file() { compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); }
__keel_dir() { compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); }
__keel_manifest() {
  compopt -o filenames 2>/dev/null
  local f; COMPREPLY=()
  while IFS= read -r f; do
    if [[ -d $f || $f == *.yml || $f == *.yaml || $f == *.json ]]; then COMPREPLY+=("$f"); fi
  done < <(compgen -f -- "$cur")
}
# Running VMs: a folder in the VM folder with a control socket, whose keel run (its pid file) is alive.
__keel_vm_names() {
  local root=\${KEEL_VM_DIR:-${vmsRoot()}} d
  for d in "$root"/*/; do
    d=\${d%/}
    if [[ -S $d/api.sock ]] && kill -0 "$(cat "$d/pid" 2>/dev/null)" 2>/dev/null; then printf '%s\\n' "\${d##*/}"; fi
  done
}
__keel_vm() { COMPREPLY=($(compgen -W "$(__keel_vm_names)" -- "$cur")); }
# Services: asked of the keel this command line talks to (its --vm or --socket), quietly.
__keel_service() {
  local names
  names=$(${keel} \${vm:+--vm "$vm"} ps -q \${socket:+--socket "$socket"} 2>/dev/null)
  COMPREPLY=($(compgen -W "$names" -- "$cur"))
}`;
}

/**
 * bash splits words at "=" and ":" (COMP_WORDBREAKS: --opt=value,
 * 8080:80): they are put back together, and the part after "=" is completed. zsh passes --opt=value
 * whole, and its matches must then carry the --opt= before them.
 */
const SCAN = `  [[ -n \${ZSH_VERSION-} ]] && setopt localoptions ksharrays
  local -a words=(); local cword=0 w cur raw=\${COMP_WORDS[COMP_CWORD]} prefix=
  for ((w = 0; w < \${#COMP_WORDS[@]}; w++)); do
    if [[ \${COMP_WORDS[w]} == [=:] && \${#words[@]} -gt 0 ]]; then
      words[\${#words[@]}-1]+=\${COMP_WORDS[w]}
      if ((w < COMP_CWORD)) && ((w + 1 < \${#COMP_WORDS[@]})); then ((w++)); words[\${#words[@]}-1]+=\${COMP_WORDS[w]}; fi
    else words+=("\${COMP_WORDS[w]}"); fi
    if ((w >= COMP_CWORD)) && ((cword == 0)); then cword=$((\${#words[@]} - 1)); fi
  done
  cur=\${words[cword]}
  # The option whose value is typed as --opt=VALUE: complete VALUE (zsh wants --opt= in front of it).
  __keel_split() { prefix=\${cur%%=*}=; cur=\${cur#*=}; [[ $raw == ?*=* ]] || prefix=; }
  local i=1 vm= socket= verb=
  while ((i < cword)); do
    case \${words[i]} in
      --vm) vm=\${words[i+1]}; ((i += 2)) ;;
      --vm=*) vm=\${words[i]#--vm=}; ((i++)) ;;
      *) break ;;
    esac
  done`;

/** After the verb: which argument the cursor is at, and whether it is an option's value. */
const ARGS = `  local pos=0 j valueof=
  for ((j = i + 1; j < cword; j++)); do
    w=\${words[j]}
    if [[ -n $valueof ]]; then [[ $valueof == --socket ]] && socket=$w; valueof=; continue; fi
    if ((rest >= 0 && pos >= rest)); then ((pos++)); continue; fi
    case $w in
      --) rest=$pos ;;
      --socket=*) socket=\${w#--socket=} ;;
      --*=*) ;;
      -?*) if [[ " $valued " == *" $w "* ]]; then valueof=$w; fi ;;
      *) ((pos++)) ;;
    esac
  done
  if [[ -n $valueof ]]; then $values "$valueof" || COMPREPLY=(); return; fi
  if ! ((rest >= 0 && pos >= rest)); then
    if [[ $cur == --*=* ]]; then
      local opt=\${cur%%=*}; __keel_split
      $values "$opt" || COMPREPLY=()
      __keel_prefix; return
    fi
    if [[ $cur == -* ]]; then __keel_words "$opts"; return; fi
  fi
  ((pos >= \${#places[@]})) && pos=$((\${#places[@]} - 1))
  eval "\${places[pos]}"`;

export function bashScript(verbs: readonly VerbSpec[], keel: string): string {
  const hostVerbs = verbs.filter((v) => !v.control).map((v) => v.name).join(' ');
  const controlVerbs = verbs.filter((v) => v.control).map((v) => v.name).join(' ');
  return `# keel completion for bash, from "keel completion bash": verbs, options and their values,
# running VMs (--vm) and the services of a running keel.  Load it with:
#   source <(keel completion bash)
${helpers(keel)}
__keel_prefix() { [[ -n $prefix ]] && COMPREPLY=("\${COMPREPLY[@]/#/$prefix}"); return 0; }
${verbs.map(valuesFunction).join('\n')}
_keel() {
${SCAN}
  if ((i >= cword)); then
    if [[ \${words[cword-1]} == --vm ]]; then __keel_vm; return; fi
    if [[ $cur == --vm=* ]]; then __keel_split; __keel_vm; __keel_prefix; return; fi
    if [[ -n $vm ]]; then __keel_words ${quote(controlVerbs)}; else __keel_words ${quote(`${hostVerbs} ${controlVerbs} --vm --help --version`)}; fi
    return
  fi
  verb=\${words[i]}
  local opts= valued= rest=-1 values= places=()
  case $verb in
${verbs.map((v, n) => verbArm(v, n, verbs)).join('\n')}
    *) COMPREPLY=(); return ;;
  esac
${ARGS}
}
complete -F _keel keel
`;
}

/** zsh: the same function through zsh's bash completion layer. */
export function zshScript(verbs: readonly VerbSpec[], keel: string): string {
  return `#compdef keel
# keel completion for zsh, from "keel completion zsh": verbs, options and their values,
# running VMs (--vm) and the services of a running keel.  Load it with:
#   source <(keel completion zsh)
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit -u; }
autoload -U +X bashcompinit && bashcompinit
${bashScript(verbs, keel).split('\n').slice(3).join('\n')}`;
}

/** How the script runs keel for service names: this very keel, as it was started (node and the bundle, or /usr/bin/keel). */
function keelCommand(): string {
  const script = process.argv[1] ?? 'keel';
  return script.endsWith('.js') ? `${quote(process.execPath)} ${quote(script)}` : quote(script);
}

export function completionScript(shell: 'bash' | 'zsh', verbs: readonly VerbSpec[]): string {
  return shell === 'bash' ? bashScript(verbs, keelCommand()) : zshScript(verbs, keelCommand());
}
