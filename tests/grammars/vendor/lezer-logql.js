import { LRParser } from '@lezer/lr';

const AGGREGATION_OPERATORS = [
  {
    label: 'avg',
    insertText: 'avg',
    documentation: 'Calculate the average over dimensions',
  },
  {
    label: 'bottomk',
    insertText: 'bottomk',
    documentation: 'Smallest k elements by sample value',
  },
  {
    label: 'count',
    insertText: 'count',
    documentation: 'Count number of elements in the vector',
  },
  {
    label: 'max',
    insertText: 'max',
    documentation: 'Select maximum over dimensions',
  },
  {
    label: 'min',
    insertText: 'min',
    documentation: 'Select minimum over dimensions',
  },
  {
    label: 'stddev',
    insertText: 'stddev',
    documentation: 'Calculate population standard deviation over dimensions',
  },
  {
    label: 'stdvar',
    insertText: 'stdvar',
    documentation: 'Calculate population standard variance over dimensions',
  },
  {
    label: 'sum',
    insertText: 'sum',
    documentation: 'Calculate sum over dimensions',
  },
  {
    label: 'topk',
    insertText: 'topk',
    documentation: 'Largest k elements by sample value',
  },
  {
    label: 'approx_topk',
    insertText: 'approx_topk',
    documentation: 'Probabilistic approximation of topk',
  },
  {
    label: 'approx_count_distinct',
    insertText: 'approx_count_distinct',
    documentation: 'Probabilistic count of distinct label values',
  },
];

const PIPE_PARSERS = [
  {
    label: 'json',
    insertText: 'json',
    documentation: 'Extracting labels from the log line using json parser.',
  },
  {
    label: 'regexp',
    insertText: 'regexp ""',
    documentation: 'Extracting labels from the log line using regexp parser.',
    move: -1,
  },
  {
    label: 'logfmt',
    insertText: 'logfmt',
    documentation: 'Extracting labels from the log line using logfmt parser.',
  },
  {
    label: 'pattern',
    insertText: 'pattern',
    documentation: 'Extracting labels from the log line using pattern parser. Only available in Loki 2.3+.',
  },
  {
    label: 'unpack',
    insertText: 'unpack',
    detail: 'unpack identifier',
    documentation:
      'Parses a JSON log line, unpacking all embedded labels in the pack stage. A special property "_entry" will also be used to replace the original log line. Only available in Loki 2.2+.',
  },
];

const PIPE_OPERATORS = [
  {
    label: 'unwrap',
    insertText: 'unwrap',
    detail: 'unwrap identifier',
    documentation: 'Take labels and use the values as sample data for metric aggregations.',
  },
  {
    label: 'label_format',
    insertText: 'label_format',
    documentation: 'Use to rename, modify or add labels. For example, | label_format foo=bar .',
  },
  {
    label: 'line_format',
    insertText: 'line_format',
    documentation: 'Rewrites log line content. For example, | line_format "{{.query}} {{.duration}}" .',
  },
];

const RANGE_VEC_FUNCTIONS = [
  {
    insertText: 'avg_over_time',
    label: 'avg_over_time',
    detail: 'avg_over_time(range-vector)',
    documentation: 'The average of all values in the specified interval.',
  },
  {
    insertText: 'bytes_over_time',
    label: 'bytes_over_time',
    detail: 'bytes_over_time(range-vector)',
    documentation: 'Counts the amount of bytes used by each log stream for a given range',
  },
  {
    insertText: 'bytes_rate',
    label: 'bytes_rate',
    detail: 'bytes_rate(range-vector)',
    documentation: 'Calculates the number of bytes per second for each stream.',
  },
  {
    insertText: 'first_over_time',
    label: 'first_over_time',
    detail: 'first_over_time(range-vector)',
    documentation: 'The first of all values in the specified interval. Only available in Loki 2.3+.',
  },
  {
    insertText: 'last_over_time',
    label: 'last_over_time',
    detail: 'last_over_time(range-vector)',
    documentation: 'The last of all values in the specified interval. Only available in Loki 2.3+.',
  },
  {
    insertText: 'sum_over_time',
    label: 'sum_over_time',
    detail: 'sum_over_time(range-vector)',
    documentation: 'The sum of all values in the specified interval.',
  },
  {
    insertText: 'count_over_time',
    label: 'count_over_time',
    detail: 'count_over_time(range-vector)',
    documentation: 'The count of all values in the specified interval.',
  },
  {
    insertText: 'max_over_time',
    label: 'max_over_time',
    detail: 'max_over_time(range-vector)',
    documentation: 'The maximum of all values in the specified interval.',
  },
  {
    insertText: 'min_over_time',
    label: 'min_over_time',
    detail: 'min_over_time(range-vector)',
    documentation: 'The minimum of all values in the specified interval.',
  },
  {
    insertText: 'quantile_over_time',
    label: 'quantile_over_time',
    detail: 'quantile_over_time(scalar, range-vector)',
    documentation: 'The φ-quantile (0 ≤ φ ≤ 1) of the values in the specified interval.',
  },
  {
    insertText: 'rate',
    label: 'rate',
    detail: 'rate(v range-vector)',
    documentation: 'Calculates the number of entries per second.',
  },
  {
    insertText: 'stddev_over_time',
    label: 'stddev_over_time',
    detail: 'stddev_over_time(range-vector)',
    documentation: 'The population standard deviation of the values in the specified interval.',
  },
  {
    insertText: 'stdvar_over_time',
    label: 'stdvar_over_time',
    detail: 'stdvar_over_time(range-vector)',
    documentation: 'The population standard variance of the values in the specified interval.',
  },
];

const BUILT_IN_FUNCTIONS = [
  {
    insertText: 'vector',
    label: 'vector',
    detail: 'vector(scalar)',
    documentation: 'Returns the scalar as a vector with no labels.',
  },
];

const FUNCTIONS = [...AGGREGATION_OPERATORS, ...RANGE_VEC_FUNCTIONS, ...BUILT_IN_FUNCTIONS];

// Grammar for highlighting LogQL outside of a full code editor (e.g. query previews). Shaped to be
// usable as a Prism.js `Grammar` without depending on the `prismjs` package for its types.
const lokiGrammar = {
  comment: {
    pattern: /#.*/,
  },
  'context-aggregation': {
    pattern: /((without|by)\s*)\([^)]*\)/, // by ()
    lookbehind: true,
    inside: {
      'label-key': {
        pattern: /[^(),\s][^,)]*[^),\s]*/,
        alias: 'attr-name',
      },
      punctuation: /[()]/,
    },
  },
  'context-labels': {
    pattern: /\{[^}]*(?=}?)/,
    greedy: true,
    inside: {
      comment: {
        pattern: /#.*/,
      },
      'label-key': {
        pattern: /[a-zA-Z_]\w*(?=\s*(=|!=|=~|!~))/,
        alias: 'attr-name',
        greedy: true,
      },
      'label-value': {
        pattern: /"(?:\\.|[^\\"])*"/,
        greedy: true,
        alias: 'attr-value',
      },
      punctuation: /[{]/,
    },
  },
  'context-pipe': {
    pattern: /\s\|[^=~]\s?\w*/i,
    inside: {
      'pipe-operator': {
        pattern: /\|/i,
        alias: 'operator',
      },
      'pipe-operations': {
        pattern: new RegExp(`${[...PIPE_PARSERS, ...PIPE_OPERATORS].map((f) => f.label).join('|')}`, 'i'),
        alias: 'keyword',
      },
    },
  },
  function: new RegExp(`\\b(?:${FUNCTIONS.map((f) => f.label).join('|')})(?=\\s*\\()`, 'i'),
  'context-range': [
    {
      pattern: /\[[^\]]*(?=\])/, // [1m]
      inside: {
        'range-duration': {
          pattern: /\b\d+[smhdwy]\b/i,
          alias: 'number',
        },
      },
    },
    {
      pattern: /(offset\s+)\w+/, // offset 1m
      lookbehind: true,
      inside: {
        'range-duration': {
          pattern: /\b\d+[smhdwy]\b/i,
          alias: 'number',
        },
      },
    },
  ],
  quote: {
    pattern: /"(?:\\.|[^\\"])*"/,
    alias: 'string',
    greedy: true,
  },
  backticks: {
    pattern: /`(?:\\.|[^\\`])*`/,
    alias: 'string',
    greedy: true,
  },
  number: /\b-?\d+((\.\d*)?([eE][+-]?\d+)?)?\b/,
  operator: /\s?(\|[=~]?|!=?|<(?:=>?|<|>)?|>[>=]?)\s?/i,
  punctuation: /[{}(),.]/,
};

// This file was generated by lezer-generator. You probably shouldn't edit it.
const Json$1 = 1,
  Logfmt$1 = 2,
  Unpack$1 = 3,
  Pattern$1 = 4,
  Regexp$1 = 5,
  Unwrap$1 = 6,
  LabelFormat$1 = 7,
  LineFormat$1 = 8,
  LabelReplace$1 = 9,
  Vector$1 = 10,
  Offset$1 = 11,
  Bool$1 = 12,
  On$1 = 13,
  Ignoring$1 = 14,
  GroupLeft$1 = 15,
  GroupRight$1 = 16,
  Decolorize$1 = 17,
  Drop$1 = 18,
  Keep$1 = 19,
  By$1 = 20,
  Without$1 = 21,
  And$1 = 22,
  Or$1 = 23,
  Unless$1 = 24,
  Sum$1 = 25,
  Avg$1 = 26,
  Count$1 = 27,
  Max$1 = 28,
  Min$1 = 29,
  Stddev$1 = 30,
  Stdvar$1 = 31,
  Bottomk$1 = 32,
  Topk$1 = 33,
  Sort$1 = 34,
  Sort_Desc$1 = 35,
  Approx_Topk$1 = 36;

const keywordTokens = {
  json: Json$1,
  logfmt: Logfmt$1,
  unpack: Unpack$1,
  pattern: Pattern$1,
  regexp: Regexp$1,
  label_format: LabelFormat$1,
  line_format: LineFormat$1,
  label_replace: LabelReplace$1,
  vector: Vector$1,
  offset: Offset$1,
  bool: Bool$1,
  on: On$1,
  ignoring: Ignoring$1,
  group_left: GroupLeft$1,
  group_right: GroupRight$1,
  unwrap: Unwrap$1,
  decolorize: Decolorize$1,
  drop: Drop$1,
  keep: Keep$1,
};

const specializeIdentifier = (value) => {
  return keywordTokens[value.toLowerCase()] || -1;
};

const contextualKeywordTokens = {
  by: By$1,
  without: Without$1,
  and: And$1,
  or: Or$1,
  unless: Unless$1,
  sum: Sum$1,
  avg: Avg$1,
  count: Count$1,
  max: Max$1,
  min: Min$1,
  stddev: Stddev$1,
  stdvar: Stdvar$1,
  bottomk: Bottomk$1,
  topk: Topk$1,
  sort: Sort$1,
  sort_desc: Sort_Desc$1,
  approx_topk: Approx_Topk$1,
};

const extendIdentifier = (value) => {
  return contextualKeywordTokens[value.toLowerCase()] || -1;
};

// This file was generated by lezer-generator. You probably shouldn't edit it.
const spec_Identifier = {__proto__:null,ip:303, count_over_time:309, rate:311, rate_counter:313, bytes_over_time:315, bytes_rate:317, avg_over_time:319, sum_over_time:321, min_over_time:323, max_over_time:325, stddev_over_time:327, stdvar_over_time:329, quantile_over_time:331, first_over_time:333, last_over_time:335, absent_over_time:337, bytes:343, duration:345, duration_seconds:347, approx_count_distinct:349};
const parser = LRParser.deserialize({
  version: 14,
  states: "F|OYQPOOO#iQPO'#DVOOQO'#ES'#ESO#nQPO'#ESO%TQPO'#DUOYQPO'#DUOOQO'#Ee'#EeO%bQPO'#EdOOQO'#FQ'#FQO%gQPO'#FPOOQO'#FS'#FSO%rQPO'#FRQ%wQPOOO&xQPO'#FaO&}QPO'#FbOOQO'#Ec'#EcOOQO'#DT'#DTOOQO'#Ef'#EfOOQO'#Eg'#EgOOQO'#Eh'#EhOOQO'#Ei'#EiOOQO'#Ej'#EjOOQO'#Ek'#EkOOQO'#El'#ElOOQO'#Em'#EmOOQO'#En'#EnOOQO'#Eo'#EoOOQO'#Ep'#EpOOQO'#Eq'#EqOOQO'#Er'#ErOOQO'#Es'#EsOOQO'#Et'#EtOOQO'#FT'#FTO'SQPO'#DXOOQO'#DW'#DWO'bQPO,59qOOQO,5:n,5:nOOQO'#Dd'#DdO'jQPO'#DcO'rQPO'#DbO)wQPO'#DaO+WQPO'#DaOOQO'#D`'#D`O,OQPO,59pO.YQPO,59pO.aQPO,5:}O.hQPO,5;OO.sQPO'#E}O1UQPO,5;kO1]QPO,5;kO1bQPO,5;mO1gQPO,5;pO1gQPO,5;pO1gQPO,5;pO1gQPO,5;pO1gQPO,5;pO1gQPO,5;pOYQPO,5;{O4PQPO,5;|O4UQPO,59sO#iQPO,59rOOQO1G/]1G/]OOQO'#Di'#DiO4ZQPO,59}O5zQPO,59}OOQO'#Dj'#DjO6PQPO,59|OOQO,59|,59|O6XQPO'#DXO6vQPO'#DmO8mQPO'#DpO:aQPO'#DpOOQO'#Dp'#DpOOQO'#Dw'#DwOOQO'#Du'#DuO+vQPO'#DuO:fQPO,59{O<VQPO'#EWO<[QPO'#EXOOQO'#E['#E[O<aQPO'#E]O<fQPO'#E`OOQO,59{,59{OOQO,59z,59zOOQO1G/[1G/[OOQO1G0i1G0iO<kQPO'#EuO.kQPO'#EuO<uQPO1G0jO<zQPO1G0jO=PQPO,5;iO>]QPO1G1VO>dQPO1G1VO>kQPO1G1VO>rQPO1G1XO>wQPO'#FWOA]QPO'#FVOAgQPO'#FVOYQPO1G1[OYQPO1G1[OYQPO1G1[OYQPO1G1[OYQPO1G1[OYQPO1G1[OAqQPO1G1gOAxQPO1G1hOOQO1G/_1G/_OOQO1G/^1G/^O6PQPO1G/iOA}QPO1G/iOBSQPO'#DkOCsQPO'#DkOOQO1G/h1G/hODZQPO,59sOCxQPO,5:dOOQO'#Dn'#DnODeQPO,5:XOF[QPO'#DsOOQO'#Dr'#DrOHOQPO,5:`OIoQPO,5:]OOQO,5:[,5:[OK`QPO,5:aO+vQPO,5:aO+vQPO,5:aOOQO,5:r,5:rOKnQPO'#EZOOQO'#EY'#EYOKsQPO,5:sOMdQPO'#E_OOQO'#E_'#E_OOQO'#E^'#E^O! ZQPO,5:wO!!zQPO'#EbOOQO'#Eb'#EbOOQO'#Ea'#EaO!$qQPO,5:zO!&bQPO'#DaO<kQPO,5;aO!&iQPO'#EvO!&nQPO,5;aO!&vQPO,5;aO!'TQPO,5;aO!'bQPO,5;aO!'gQPO7+&UO.kQPO7+&UOOQO'#FO'#FOO!(wQPO1G1TOOQO1G1T1G1TOYQPO7+&qO!)PQPO7+&qO!*aQPO7+&qO!*hQPO7+&qO.kQPO7+&sO!*oQQO'#FXOOQO,5;r,5;rO!-TQPO,5;qO!-[QPO,5;qO!.mQPO7+&vO!.tQPO7+&vOOQO7+&v7+&vO!/RQPO7+&vO!/YQPO7+&vO!0_QPO7+&vO!0oQPO7+'ROOQO7+'S7+'SOOQO7+%T7+%TO!0tQPO7+%TO6PQPO,5:VO!0yQPO,5:VO!1OQPO1G/|OOQO1G0O1G0OOOQO1G0V1G0VOOQO1G0X1G0XOOQO,5:Y,5:YO!1TQPO1G/zO!2tQPO,5:_O!2yQPO,5:^OOQO1G/{1G/{O!3OQPO1G/{O!4oQPO,5:uO<[QPO,5:tO<aQPO,5:xO<fQPO,5:{O!4wQPO,5;dO!&nQPO1G0{O!5VQPO1G0{O!5_QPO,5;bO+vQPO,5;dO!5dQPO1G0{O!5nQPO'#EwO!5sQPO1G0{O!5dQPO1G0{O!5{QPO1G0{O!6YQPO1G0{O!&qQPO1G0{OOQO1G0{1G0{OOQO<<Ip<<IpO!6eQPO<<IpO!6jQPO,5;jOOQO7+&o7+&oO!6oQPO<<J]OOQO<<J]<<J]OYQPO<<J]O!6vQPO<<J_OOQO'#FZ'#FZO!6{QPO,5;sOOQO'#FY'#FYOOQO,5;s,5;sOOQO1G1]1G1]O!7TQPO1G1]O!9dQPO<<JmOOQO<<Ho<<HoOOQO1G/q1G/qO!9iQPO1G/qO!9nQPO7+%hOOQO1G/y1G/yOOQO1G/x1G/xOOQO1G0a1G0aOOQO1G0`1G0`OOQO1G0d1G0dOOQO1G0g1G0gOOQO'#Ey'#EyOOQO1G1O1G1OO!9sQPO1G1OOOQO'#Ez'#EzOOQO'#E{'#E{OOQO'#E|'#E|OOQO7+&g7+&gOOQO1G0|1G0|O!9xQPO1G1OO!:^QPO7+&gOOQO,5;c,5;cO!:fQPO7+&gO!&qQPO7+&gO!:pQPO7+&gO!:{QPOAN?[OOQO1G1U1G1UO!<]QPOAN?wO!=mQPOAN?wO!=tQPOAN?yO!?UQQO1G1_OOQO1G1_1G1_OOQO7+&w7+&wO!?^QPOAN@XOOQO7+%]7+%]O!?cQPO<<ISO!?hQPO7+&jO!?mQPO<<JRO!?uQPO<<JRO!?}QPO'#ExO!@SQPO<<JROOQOG24vG24vOOQOG25cG25cOOQOG25eG25eOOQO1G1`1G1`OOQO7+&y7+&yO!@[QPOG25sOOQOAN>nAN>nO!@aQPO<<JUOOQOAN?mAN?mO!@fQPOAN?mO!@nQPOLD+_OOQOAN?pAN?pOOQO,5:s,5:sO!@sQPO!$'NyO!@xQPO!)9DeO!@}QPO!.K:POOQO!4//k!4//kO<[QPO'#EXO!ASQPO'#DaO!AzQPO,59pO!CQQPO'#DUOYQPO1G1[OYQPO1G1[OYQPO1G1[OYQPO1G1[OYQPO1G1[OYQPO1G1[O1gQPO,5;pO1gQPO,5;pO1gQPO,5;pO1gQPO,5;pO1gQPO,5;pO1gQPO,5;pO!D]QPO7+&vO!DdQPO7+&vO!DqQPO7+&vO!EyQPO7+&vO!FQQPO7+&vO!DxQPO'#FU",
  stateData: "!Fd~O$XOSuOS~OX]OY^OiWOjWOkWOlWOmWOnWOoWOpWOqWOrWOsWOtWO!wQO!xRO!yRO$YPO$^TO$`aO$abO$bcO$cdO$deO$efO$fgO$ghO$hiO$ijO$jkO$klO$lmO$mnO$noO$tpO~O|qO~O!wtO~O!PuO!RuO!XuO!YuO!ZuO![uOfxXgxXhxX!mxX!oxX!pxX!qxX!rxX!xxX!yxX$PxX$QxX$RxX$SxX~O!`yO$VxX$_xX~P#sO$^!OO~Od!POe!PO$^!QO~O$^!SO~Of!UOg!TOh!UO!P!YO!m!YO!o!YO!p!YO!q!YO!r!YO!x!VO!y!VO$P!WO$Q!WO$R!WO$S!XO~O$^!ZO~O$^![O~O}!]O!P!]O!Q!]O!R!]O~O$Z!^O$[!_O~O!O!aO$]!cO~Og!dOf!UXh!UX!P!UX!R!UX!X!UX!Y!UX!Z!UX![!UX!`!UX!m!UX!o!UX!p!UX!q!UX!r!UX!x!UX!y!UX$P!UX$Q!UX$R!UX$S!UX$V!UX$_!UX$o!UX$Z!UX~O!PuO!RuO!XuO!YuO!ZuO![uO~Of!TXg!TXh!TX!`!TX!m!TX!o!TX!p!TX!q!TX!r!TX!x!TX!y!TX$P!TX$Q!TX$R!TX$S!TX$V!TX$_!TX$o!TX$Z!TX~P)cOP!hOQ!gOR!jOS!iOT!iOV!pOW!oOa!qOb!rOc!sO|!fO$^!mO~O!`yOfxagxahxa!mxa!oxa!pxa!qxa!rxa!xxa!yxa$Pxa$Qxa$Rxa$Sxa$Vxa$_xa~P)cOfwXgwXhwX!PwX!mwX!owX!pwX!qwX!rwX!xwX!ywX$PwX$QwX$RwX$SwX~O$_!vO~P-XO$_!wO~P-XO!w!{O$YPO$^!yO~O$^!|O~OX]OY^OiWOjWOkWOlWOmWOnWOoWOpWOqWOrWOsWOtWO!xRO!yRO$YPO$^TO$`aO$abO$bcO$cdO$deO$efO$fgO$ghO$hiO$ijO$jkO$klO$lmO$mnO$noO$tpO~O!w!}O~P.xO$^#PO~O|#QO~O[#TO]#RO^#ROX#yPY#yPi#yPj#yPk#yPl#yPm#yPn#yPo#yPp#yPq#yPr#yPs#yPt#yP!w#yP!x#yP!y#yP$Y#yP$^#yP$`#yP$a#yP$b#yP$c#yP$d#yP$e#yP$f#yP$g#yP$h#yP$i#yP$j#yP$k#yP$l#yP$m#yP$n#yP$t#yP~O!w#]O~O!O#^O~Og#`Of!Vah!Va!P!Va!R!Va!X!Va!Y!Va!Z!Va![!Va!`!Va!m!Va!o!Va!p!Va!q!Va!r!Va!x!Va!y!Va$P!Va$Q!Va$R!Va$S!Va$V!Va$_!Va$o!Va$Z!Va~O$^#aO~O!O#bO$]!cO~O}#eO!P#eO!Q!]O!R!]O!m#fO!o#fO!p#fO!q#fO!r#fO~O|#iO!c#gOf!aXg!aXh!aX!P!aX!R!aX!X!aX!Y!aX!Z!aX![!aX!`!aX!m!aX!o!aX!p!aX!q!aX!r!aX!x!aX!y!aX$P!aX$Q!aX$R!aX$S!aX$V!aX$_!aX$o!aX$Z!aX~O|#iOf!dXg!dXh!dX!P!dX!R!dX!X!dX!Y!dX!Z!dX![!dX!`!dX!m!dX!o!dX!p!dX!q!dX!r!dX!x!dX!y!dX$P!dX$Q!dX$R!dX$S!dX$V!dX$_!dX$o!dX$Z!dX~O!O#mO~Of#oOg#pO$Z#oOh!Ta!P!Ta!R!Ta!X!Ta!Y!Ta!Z!Ta![!Ta!`!Ta!m!Ta!o!Ta!p!Ta!q!Ta!r!Ta!x!Ta!y!Ta$P!Ta$Q!Ta$R!Ta$S!Ta$V!Ta$_!Ta$o!Ta~O!O#qO~O|#rO~O|#uO~O|#yO~O!`#}O$o$PO~P)cO$_$UO~O$Z$VO~O|$WO$_$YO~Of!vXg!vXh!vX!P!vX!m!vX!o!vX!p!vX!q!vX!r!vX!x!vX!y!vX$P!vX$Q!vX$R!vX$S!vX$_!vX~O$Z$ZO~P=XO$_$[O~P-XO!w$]O~P.xO$Z$_O~O$^$`O~OX#yXY#yXi#yXj#yXk#yXl#yXm#yXn#yXo#yXp#yXq#yXr#yXs#yXt#yX!w#yX!x#yX!y#yX$Y#yX$^#yX$`#yX$a#yX$b#yX$c#yX$d#yX$e#yX$f#yX$g#yX$h#yX$i#yX$j#yX$k#yX$l#yX$m#yX$n#yX$t#yX~O_$bO`$bO~P>|O]#RO^#RO~P>|O$Z$jO~P-XO$_$kO~O!O$mO~Og$nOf!_Xh!_X!P!_X!R!_X!X!_X!Y!_X!Z!_X![!_X!`!_X!m!_X!o!_X!p!_X!q!_X!r!_X!x!_X!y!_X$P!_X$Q!_X$R!_X$S!_X$V!_X$_!_X$o!_X$Z!_X~O$^$oO~O!n$qO!t$rO!wQO!xRO!yRO~O!O#^O$]!cO~PCxO|#iO!c$tOf!aag!aah!aa!P!aa!R!aa!X!aa!Y!aa!Z!aa![!aa!`!aa!m!aa!o!aa!p!aa!q!aa!r!aa!x!aa!y!aa$P!aa$Q!aa$R!aa$S!aa$V!aa$_!aa$o!aa$Z!aa~O}$vOf!gXg!gXh!gX!P!gX!R!gX!X!gX!Y!gX!Z!gX![!gX!`!gX!m!gX!o!gX!p!gX!q!gX!r!gX!x!gX!y!gX$P!gX$Q!gX$R!gX$S!gX$V!gX$Z!gX$_!gX$o!gX~O$Z$wOf!hag!hah!ha!P!ha!R!ha!X!ha!Y!ha!Z!ha![!ha!`!ha!m!ha!o!ha!p!ha!q!ha!r!ha!x!ha!y!ha$P!ha$Q!ha$R!ha$S!ha$V!ha$_!ha$o!ha~O$Z$wOf!eag!eah!ea!P!ea!R!ea!X!ea!Y!ea!Z!ea![!ea!`!ea!m!ea!o!ea!p!ea!q!ea!r!ea!x!ea!y!ea$P!ea$Q!ea$R!ea$S!ea$V!ea$_!ea$o!ea~Of#oOg#pO$Z#oO$_$xO~O}$zO~O$Z${Of!{ag!{ah!{a!P!{a!R!{a!X!{a!Y!{a!Z!{a![!{a!`!{a!m!{a!o!{a!p!{a!q!{a!r!{a!x!{a!y!{a$P!{a$Q!{a$R!{a$S!{a$V!{a$_!{a$o!{a~O}!]O!P!]O!Q!]O!R!]Of#RXg#RXh#RX!X#RX!Y#RX!Z#RX![#RX!`#RX!m#RX!o#RX!p#RX!q#RX!r#RX!x#RX!y#RX$P#RX$Q#RX$R#RX$S#RX$V#RX$Z#RX$_#RX$o#RX~O$Z$|Of#Pag#Pah#Pa!P#Pa!R#Pa!X#Pa!Y#Pa!Z#Pa![#Pa!`#Pa!m#Pa!o#Pa!p#Pa!q#Pa!r#Pa!x#Pa!y#Pa$P#Pa$Q#Pa$R#Pa$S#Pa$V#Pa$_#Pa$o#Pa~O}!]O!P!]O!Q!]O!R!]Of#UXg#UXh#UX!X#UX!Y#UX!Z#UX![#UX!`#UX!m#UX!o#UX!p#UX!q#UX!r#UX!x#UX!y#UX$P#UX$Q#UX$R#UX$S#UX$V#UX$Z#UX$_#UX$o#UX~O$Z$}Of#Sag#Sah#Sa!P#Sa!R#Sa!X#Sa!Y#Sa!Z#Sa![#Sa!`#Sa!m#Sa!o#Sa!p#Sa!q#Sa!r#Sa!x#Sa!y#Sa$P#Sa$Q#Sa$R#Sa$S#Sa$V#Sa$_#Sa$o#Sa~OU%OO~P+WO!n%RO~O!`%SO$o$PO~OZ%UO!`#}O$_#ia~P)cO!`#}O$_%ZO$o$PO~P)cO$_%[O~Od!POe!POf#Wqg#Wqh#Wq!P#Wq!m#Wq!o#Wq!p#Wq!q#Wq!r#Wq!x#Wq!y#Wq$P#Wq$Q#Wq$R#Wq$S#Wq$V#Wq$_#Wq$Z#Wq~O$Z%_O$_%`O~Od!POe!POf#sqg#sqh#sq!P#sq!m#sq!o#sq!p#sq!q#sq!r#sq!x#sq!y#sq$P#sq$Q#sq$R#sq$S#sq$V#sq$_#sq$Z#sq~O$Z%cO~P=XO$_%bO~P-XO$O%eO$_%hO~OX#yaY#yai#yaj#yak#yal#yam#yan#yao#yap#yaq#yar#yas#yat#ya!w#ya!x#ya!y#ya$Y#ya$`#ya$a#ya$b#ya$c#ya$d#ya$e#ya$f#ya$g#ya$h#ya$i#ya$j#ya$k#ya$l#ya$m#ya$n#ya$t#ya~O$^$`O~P!*wO_%jO`%jO$^#ya~P!*wOf!UOh!UO!P!YO!m!YO!o!YO!p!YO!q!YO!r!YO!x!VO!y!VO$P#xq$Q#xq$R#xq$S#xq$V#xq$_#xq~Og#xq~P!-iOf#xqg#xqh#xq~P!-oOg!TO~P!-iO$V#xq$_#xq~P%wOf#xqg#xqh#xq!P#xq!m#xq!o#xq!p#xq!q#xq!r#xq$P#xq$Q#xq$R#xq$S#xq~O!x!VO!y!VO$V#xq$_#xq~P!/dO!O%kO~O$_%lO~O!O%nO~O$^%oO~O$Z$wOf!hig!hih!hi!P!hi!R!hi!X!hi!Y!hi!Z!hi![!hi!`!hi!m!hi!o!hi!p!hi!q!hi!r!hi!x!hi!y!hi$P!hi$Q!hi$R!hi$S!hi$V!hi$_!hi$o!hi~O!O%pO~O|#iO~Of#oO$Z#oOg!iih!ii!P!ii!R!ii!X!ii!Y!ii!Z!ii![!ii!`!ii!m!ii!o!ii!p!ii!q!ii!r!ii!x!ii!y!ii$P!ii$Q!ii$R!ii$S!ii$V!ii$_!ii$o!ii~O|%rO!O%rO~O|%wO$q%yO$r%zO$s%{O~OZ%UO$_#ii~O$p%}O~O!`#}O$_#ii~P)cO!n&QO~O!`%SO$_#ii~O!`#}O$_&SO$o$PO~P)cO!`%SO$_&SO$o$PO~O$_&UO~O|&VO~O$_&WO~P-XO$_&YO~O$Z&ZO$_&[O~O$^$`OX#yiY#yii#yij#yik#yil#yim#yin#yio#yip#yiq#yir#yis#yit#yi!w#yi!x#yi!y#yi$Y#yi$`#yi$a#yi$b#yi$c#yi$d#yi$e#yi$f#yi$g#yi$h#yi$i#yi$j#yi$k#yi$l#yi$m#yi$n#yi$t#yi~O$Z&^O~O$_&_O~O!O&`O~O$^&aO~Of#oOg#pO$Z#oO!`#li$o#li$_#li~O!`%SO$_#iq~O!`#}O$_#iq~P)cOZ%UO!`&dO$_#iq~Od!POe!POf#W!Rg#W!Rh#W!R!P#W!R!m#W!R!o#W!R!p#W!R!q#W!R!r#W!R!x#W!R!y#W!R$P#W!R$Q#W!R$R#W!R$S#W!R$V#W!R$_#W!R$Z#W!R~Od!POe!POf#s!Rg#s!Rh#s!R!P#s!R!m#s!R!o#s!R!p#s!R!q#s!R!r#s!R!x#s!R!y#s!R$P#s!R$Q#s!R$R#s!R$S#s!R$V#s!R$_#s!R$Z#s!R~O$_&gO~P-XOd!POe!POf#u!Rg#u!Rh#u!R!P#u!R!m#u!R!o#u!R!p#u!R!q#u!R!r#u!R!x#u!R!y#u!R$P#u!R$Q#u!R$R#u!R$S#u!R$V#u!R$_#u!R$Z#u!R~O$O%eO$_&jO~O!O&kO~O$_&lO~O|&mO~O!`%SO$_#iy~OZ%UO$_#iy~OU%OO~O!`&dO$_#iy~O$Z&pO~O$_&qO~O!`%SO$_#i!R~O!O&sO~O$Z&tO~O!O&uO~O$_&vO~OP!hOQ!gOR!jOS!iOT!iOV&wOW!oOa!qOb!rOc!sO|!fO$^!mO~O!`&xOfxagxahxa!mxa!oxa!pxa!qxa!rxa!xxa!yxa$Pxa$Qxa$Rxa$Sxa$Zxa~P)cO!`&xO$ZxX~P#sOf'SOh'SO!P'WO!m'WO!o'WO!p'WO!q'WO!r'WO!x'TO!y'TO$P#xq$Q#xq$R#xq$S#xq$Z#xq~Og#xq~P!C[Of#xqg#xqh#xq~P!CbOg'RO~P!C[Of'SOg'ROh'SO!P'WO!m'WO!o'WO!p'WO!q'WO!r'WO!x'TO!y'TO$P'UO$Q'UO$R'UO$S'VO~O$Z#xq~P!DxO!x'TO!y'TO$Z#xq~P!/dO!n!t!w!t~",
  goto: "2s$VPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP$W%V%n&_&bPPPPPP&y']'m'{(^PPPP(m(u)OP)X)^P)X)X)a)j)X)r*T*T*^PPPPPP*^P*T*gPPP)X)X+Q+W)X)X+_+b)X+h+k+q,d,y-`-`-`-`-`-`-`-`-`-`-`-`-`-`-`-u.R.f.r/[/_/_/_/b/t,d/w,d0^0s,d1Y2O2a2j2mPPPPP,d,d[[OT!Q#P$Z%cQ$d#UQ$e#VS$f#W&}Q$g#XQ$h#YQ$i#ZQ'X&{Q'Y&|Q'Z'OQ'['PQ']'QR'^!Zt`O!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QR|TjSOT!Q!Z#P#U#V#W#X#Y#Z$Z%cU!x!O$V$_Q$S!y]&z&{&|&}'O'P'QRsPQrP^!ly!m#o#p#}%S&xQ#_!^S#v!r$|T#z!s$}Q{SQ$O!xQ%T$RQ%X$SQ&R%WR&y&z[zS!x$R$S%W&z]!u{$O%T%X&R&yixS{!x$O$R$S%T%W%X&R&y&zhwS{!x$O$R$S%T%W%X&R&y&zR!exkvSx{!x$O$R$S%T%W%X&R&y&zQ!bvV#c!d#`$nW!`v!d#`$nR$p#eQ#d!dQ$l#`R%m$nV!ty#}&xR#h!gQ#k!gQ#l!hR$u#hU#j!g!h#hR%q$wU!ny#}&xQ#n!mQ$x#oQ$y#pR&O%S_!ly!m#o#p#}%S&x_!ky!m#o#p#}%S&xv_OT!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QT$s#e#fQ#t!pR&r&wS#s!p&wR%s${R#x!rQ#w!rR%t$|R#|!sQ#{!sR%u$}j`O#U#V#W#X#Y#Z&{&|&}'O'P'QQ}TQ#O!QQ#[!ZQ$^#PQ%a$ZR&X%cw_OT!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QwVOT!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QwUOT!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QQ!z!OQ$T!yQ%^$VR%d$_S$R!x$SW%Q$O$Q%X%YQ%|%PQ&T%ZR&c&SQ%W$RQ%|%QQ&e&TR&n&cQ$Q!xS%P$O%XQ%V$RQ%Y$SS&P%T%WS&b&R&TR&o&eR%x%OR%v%OQ!RXQ%]$UQ%b$[Q&f&UQ&g&WR&h&YR$X!|wXOT!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QwZOT!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QwYOT!Q!Z#P#U#V#W#X#Y#Z$Z%c&{&|&}'O'P'QQ#U!TQ#V!UQ#W!VQ#X!WQ#Y!XQ#Z!YQ&{'RQ&|'SQ&}'TQ'O'UQ'P'VR'Q'Wh#S!T!U!V!W!X!Y'R'S'T'U'V'WR$c#TQ$a#RQ%i$bR&]%jR%f$`Q%g$`R&i&Z",
  nodeNames: "⚠ Json Logfmt Unpack Pattern Regexp Unwrap LabelFormat LineFormat LabelReplace Vector Offset Bool On Ignoring GroupLeft GroupRight Decolorize Drop Keep By Without And Or Unless Sum Avg Count Max Min Stddev Stdvar Bottomk Topk Sort Sort_Desc Approx_Topk LineComment LogQL Expr LogExpr Selector Matchers Matcher Identifier Eq String Neq Re Nre PipelineExpr PipelineStage LineFilters LineFilter Filter PipeExact PipeMatch PipePattern Npa FilterOp Ip OrFilter Pipe LogfmtParser LogfmtParserFlags ParserFlag LabelParser JsonExpressionParser LabelExtractionExpressionList LabelExtractionExpression LogfmtExpressionParser LabelFilter IpLabelFilter UnitFilter DurationFilter Gtr Duration Gte Lss Lte Eql BytesFilter Bytes NumberFilter LiteralExpr Number Add Sub LineFormatExpr LabelFormatExpr LabelsFormat LabelFormatMatcher DecolorizeExpr DropLabelsExpr DropLabels DropLabel KeepLabelsExpr KeepLabels KeepLabel MetricExpr RangeAggregationExpr RangeOp CountOverTime Rate RateCounter BytesOverTime BytesRate AvgOverTime SumOverTime MinOverTime MaxOverTime StddevOverTime StdvarOverTime QuantileOverTime FirstOverTime LastOverTime AbsentOverTime LogRangeExpr Range OffsetExpr UnwrapExpr ConvOp BytesConv DurationConv DurationSecondsConv Grouping Labels VectorAggregationExpr VectorOp LabelAggregationExpr LabelAggOp ApproxCountDistinct BinOpExpr BinOpModifier OnOrIgnoringModifier GroupingLabels GroupingLabelList GroupingLabel LabelName Mul Div Mod Pow LabelReplaceExpr VectorExpr",
  maxTerm: 174,
  skippedNodes: [0,37],
  repeatNodeCount: 0,
  tokenData: ">Y~RvX^#ipq#iqr$^rs$yst&muv'Uxy'Zyz'`z{'e{|'j|}'o}!O't!O!P4U!P!Q5U!Q!R5Z!R![8l![!]:k!^!_;P!_!`;^!`!a;s!c!}<Q!}#O<h#P#Q<m#Q#R<r#R#S<Q#S#T<w#T#o<Q#o#p=a#p#q=f#q#r>T#y#z#i$f$g#i#BY#BZ#i$IS$I_#i$I|$JO#i$JT$JU#i$KV$KW#i&FU&FV#i~#nY$X~X^#ipq#i#y#z#i$f$g#i#BY#BZ#i$IS$I_#i$I|$JO#i$JT$JU#i$KV$KW#i&FU&FV#i~$aR!_!`$j!`!a$o#r#s$t~$oO!P~~$tO![~~$yO!R~~$|WOY$yZr$yrs%fs#O$y#O#P%k#P;'S$y;'S;=`&g<%lO$y~%kO!O~~%nRO;'S$y;'S;=`%w;=`O$y~%zXOY$yZr$yrs%fs#O$y#O#P%k#P;'S$y;'S;=`&g;=`<%l$y<%lO$y~&jP;=`<%l$y~&rSu~OY&mZ;'S&m;'S;=`'O<%lO&m~'RP;=`<%l&m~'ZO$R~~'`O$^~~'eO$_~~'jO$P~~'oO!x~~'tO$Z~~'yQ!y~}!O(P!Q![*V~(SQ#_#`(Y#g#h)g~(]P#X#Y(`~(cP#X#Y(f~(iP#d#e(l~(oP}!O(r~(uP#X#Y(x~({P#a#b)O~)RP#d#e)U~)XP#h#i)[~)_P#m#n)b~)gO!c~~)jP#h#i)m~)pP#f#g)s~)vP#]#^)y~)|P#V#W*P~*SP#h#i)b~*YZ!O!P*{!Q![*V#W#X1n#[#]+k#a#b,x#b#c/a#g#h0g#i#j/l#k#l2c#m#n3Z${$|/l~+OP!Q![+R~+UV!Q![+R#[#]+k#a#b,x#b#c/a#g#h0g#i#j/l${$|/l~+pP!n~!Q![+s~+vV!O!P,]!Q![+s#a#b,x#b#c/a#g#h0g#i#j/l${$|/l~,`P!Q![,c~,fU!Q![,c#a#b,x#b#c/a#g#h0g#i#j/l${$|/l~,}Q!n~!Q![-T#g#h.`~-WV!O!P-m!Q![-T#a#b.Y#b#c/a#g#h0g#i#j/l${$|/l~-pP!Q![-s~-vU!Q![-s#a#b.Y#b#c/a#g#h0g#i#j/l${$|/l~.]P#g#h.`~.eP!n~!Q![.h~.kT!O!P.z!Q![.h#b#c/a#i#j/l${$|/l~.}P!Q![/Q~/TS!Q![/Q#b#c/a#i#j/l${$|/l~/dP#g#h/g~/lO!n~~/oP#g#h/r~/wP!n~!Q![/z~/}R!O!P0W!Q![/z#b#c/a~0ZP!Q![0^~0aQ!Q![0^#b#c/a~0lP!n~!Q![0o~0rU!O!P1U!Q![0o#a#b.Y#b#c/a#i#j/l${$|/l~1XP!Q![1[~1_T!Q![1[#a#b.Y#b#c/a#i#j/l${$|/l~1sP!n~!Q![1v~1yW!O!P*{!Q![1v#[#]+k#a#b,x#b#c/a#g#h0g#i#j/l${$|/l~2hP!n~!Q![2k~2nX!O!P*{!Q![2k#W#X1n#[#]+k#a#b,x#b#c/a#g#h0g#i#j/l${$|/l~3`P!n~!Q![3c~3fY!O!P*{!Q![3c#W#X1n#[#]+k#a#b,x#b#c/a#g#h0g#i#j/l#k#l2c${$|/l~4XP!Q![4[~4aR!w~!Q![4[!g!h4j#X#Y4j~4mR{|4v}!O4v!Q![4|~4yP!Q![4|~5RP!w~!Q![4|~5ZO$Q~~5`e!w~!O!P6q!Q![8l!d!e8W!g!h4j!i!j8]!m!n8]!o!p8]!r!s8]!v!w8]#W#X1n#X#Y4j#[#]+k#_#`8f#a#b,x#b#c/a#g#h0g#i#j/l#k#l2c#l#m:P#m#n3Z${$|/l~6vR!w~!Q![7P!g!h4j#X#Y4j~7U`!w~!Q![7P!d!e8W!g!h4j!i!j8]!m!n8]!o!p8]!r!s8]!v!w8]#X#Y4j#[#]+k#_#`8f#a#b,x#b#c/a#g#h0g#i#j/l${$|/l~8]O!t~~8`Q!d!e8W#]#^8f~8iP!d!e8W~8qd!w~!O!P6q!Q![8l!d!e8W!g!h4j!i!j8]!m!n8]!o!p8]!r!s8]!v!w8]#W#X1n#X#Y4j#[#]+k#_#`8f#a#b,x#b#c/a#g#h0g#i#j/l#k#l2c#m#n3Z${$|/l~:SR!Q![:]!c!i:]#T#Z:]~:bR!w~!Q![:]!c!i:]#T#Z:]P:pT|P!Q![:k![!]:k!c!}:k#R#S:k#T#o:k~;UP!p~!_!`;X~;^O!q~~;cQ}~!_!`;i#r#s;n~;nO!r~~;sO!Q~~;xP!m~!_!`;{~<QO!o~R<XT|P$OQ!Q![<Q![!]:k!c!}<Q#R#S<Q#T#o<Q~<mO$o~~<rO$p~~<wO$S~~<zTO#S<w#S#T%f#T;'S<w;'S;=`=Z<%lO<w~=^P;=`<%l<w~=fO$Y~~=kR!`~!_!`=t!`!a=y#r#s>O~=yO!X~~>OO!Z~~>TO!Y~~>YO$[~",
  tokenizers: [0, 1],
  topRules: {"LogQL":[0,38]},
  specialized: [{term: 44, get: (value, stack) => (specializeIdentifier(value) << 1), external: specializeIdentifier},{term: 44, get: (value, stack) => (extendIdentifier(value) << 1) | 1, external: extendIdentifier, extend: true},{term: 44, get: (value) => spec_Identifier[value] || -1}],
  tokenPrec: 3833
});
// This file was generated by lezer-generator. You probably shouldn't edit it.
const Json = 1,
  Logfmt = 2,
  Unpack = 3,
  Pattern = 4,
  Regexp = 5,
  Unwrap = 6,
  LabelFormat = 7,
  LineFormat = 8,
  LabelReplace = 9,
  Vector = 10,
  Offset = 11,
  Bool = 12,
  On = 13,
  Ignoring = 14,
  GroupLeft = 15,
  GroupRight = 16,
  Decolorize = 17,
  Drop = 18,
  Keep = 19,
  By = 20,
  Without = 21,
  And = 22,
  Or = 23,
  Unless = 24,
  Sum = 25,
  Avg = 26,
  Count = 27,
  Max = 28,
  Min = 29,
  Stddev = 30,
  Stdvar = 31,
  Bottomk = 32,
  Topk = 33,
  Sort = 34,
  Sort_Desc = 35,
  Approx_Topk = 36,
  LineComment = 37,
  LogQL = 38,
  Expr = 39,
  LogExpr = 40,
  Selector = 41,
  Matchers = 42,
  Matcher = 43,
  Identifier = 44,
  Eq = 45,
  String = 46,
  Neq = 47,
  Re = 48,
  Nre = 49,
  PipelineExpr = 50,
  PipelineStage = 51,
  LineFilters = 52,
  LineFilter = 53,
  Filter = 54,
  PipeExact = 55,
  PipeMatch = 56,
  PipePattern = 57,
  Npa = 58,
  FilterOp = 59,
  Ip = 60,
  OrFilter = 61,
  Pipe = 62,
  LogfmtParser = 63,
  LogfmtParserFlags = 64,
  ParserFlag = 65,
  LabelParser = 66,
  JsonExpressionParser = 67,
  LabelExtractionExpressionList = 68,
  LabelExtractionExpression = 69,
  LogfmtExpressionParser = 70,
  LabelFilter = 71,
  IpLabelFilter = 72,
  UnitFilter = 73,
  DurationFilter = 74,
  Gtr = 75,
  Duration = 76,
  Gte = 77,
  Lss = 78,
  Lte = 79,
  Eql = 80,
  BytesFilter = 81,
  Bytes = 82,
  NumberFilter = 83,
  LiteralExpr = 84,
  Number = 85,
  Add = 86,
  Sub = 87,
  LineFormatExpr = 88,
  LabelFormatExpr = 89,
  LabelsFormat = 90,
  LabelFormatMatcher = 91,
  DecolorizeExpr = 92,
  DropLabelsExpr = 93,
  DropLabels = 94,
  DropLabel = 95,
  KeepLabelsExpr = 96,
  KeepLabels = 97,
  KeepLabel = 98,
  MetricExpr = 99,
  RangeAggregationExpr = 100,
  RangeOp = 101,
  CountOverTime = 102,
  Rate = 103,
  RateCounter = 104,
  BytesOverTime = 105,
  BytesRate = 106,
  AvgOverTime = 107,
  SumOverTime = 108,
  MinOverTime = 109,
  MaxOverTime = 110,
  StddevOverTime = 111,
  StdvarOverTime = 112,
  QuantileOverTime = 113,
  FirstOverTime = 114,
  LastOverTime = 115,
  AbsentOverTime = 116,
  LogRangeExpr = 117,
  Range = 118,
  OffsetExpr = 119,
  UnwrapExpr = 120,
  ConvOp = 121,
  BytesConv = 122,
  DurationConv = 123,
  DurationSecondsConv = 124,
  Grouping = 125,
  Labels = 126,
  VectorAggregationExpr = 127,
  VectorOp = 128,
  LabelAggregationExpr = 129,
  LabelAggOp = 130,
  ApproxCountDistinct = 131,
  BinOpExpr = 132,
  BinOpModifier = 133,
  OnOrIgnoringModifier = 134,
  GroupingLabels = 135,
  GroupingLabelList = 136,
  GroupingLabel = 137,
  LabelName = 138,
  Mul = 139,
  Div = 140,
  Mod = 141,
  Pow = 142,
  LabelReplaceExpr = 143,
  VectorExpr = 144;

export { AGGREGATION_OPERATORS, AbsentOverTime, Add, And, ApproxCountDistinct, Approx_Topk, Avg, AvgOverTime, BUILT_IN_FUNCTIONS, BinOpExpr, BinOpModifier, Bool, Bottomk, By, Bytes, BytesConv, BytesFilter, BytesOverTime, BytesRate, ConvOp, Count, CountOverTime, Decolorize, DecolorizeExpr, Div, Drop, DropLabel, DropLabels, DropLabelsExpr, Duration, DurationConv, DurationFilter, DurationSecondsConv, Eq, Eql, Expr, FUNCTIONS, Filter, FilterOp, FirstOverTime, GroupLeft, GroupRight, Grouping, GroupingLabel, GroupingLabelList, GroupingLabels, Gte, Gtr, Identifier, Ignoring, Ip, IpLabelFilter, Json, JsonExpressionParser, Keep, KeepLabel, KeepLabels, KeepLabelsExpr, LabelAggOp, LabelAggregationExpr, LabelExtractionExpression, LabelExtractionExpressionList, LabelFilter, LabelFormat, LabelFormatExpr, LabelFormatMatcher, LabelName, LabelParser, LabelReplace, LabelReplaceExpr, Labels, LabelsFormat, LastOverTime, LineComment, LineFilter, LineFilters, LineFormat, LineFormatExpr, LiteralExpr, LogExpr, LogQL, LogRangeExpr, Logfmt, LogfmtExpressionParser, LogfmtParser, LogfmtParserFlags, Lss, Lte, Matcher, Matchers, Max, MaxOverTime, MetricExpr, Min, MinOverTime, Mod, Mul, Neq, Npa, Nre, Number, NumberFilter, Offset, OffsetExpr, On, OnOrIgnoringModifier, Or, OrFilter, ParserFlag, Pattern, Pipe, PipeExact, PipeMatch, PipePattern, PipelineExpr, PipelineStage, Pow, QuantileOverTime, RANGE_VEC_FUNCTIONS, Range, RangeAggregationExpr, RangeOp, Rate, RateCounter, Re, Regexp, Selector, Sort, Sort_Desc, Stddev, StddevOverTime, Stdvar, StdvarOverTime, String, Sub, Sum, SumOverTime, Topk, UnitFilter, Unless, Unpack, Unwrap, UnwrapExpr, Vector, VectorAggregationExpr, VectorExpr, VectorOp, Without, lokiGrammar, parser };
