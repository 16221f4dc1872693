// Drive clustermapping/cmp's cluster_calcs_reducer.js (commit f1b2b674482e) on input.csv.
var fs = require('fs');
var reducer = require('./cluster_calcs_reducer.js');
var lines = fs.readFileSync('input.csv', 'utf8').trim().split('\n');
var header = lines.shift().split(',');
var store = {};
var persister = {
  get: function (key) { if (!store[key]) store[key] = {region_type_t: 'county'}; return store[key]; },
  end: function (cb) { cb(); }
};
var calc = reducer(persister);
var rows = lines.map(function (l) {
  var v = l.split(','), o = {};
  header.forEach(function (h, i) { o[h] = v[i]; });
  return o;
});
rows.forEach(function (o) {
  calc.persist({cluster_code_t: o.industry, year_t: '2020', region_type_t: 'county',
                region_code_t: o.region, traded_b: true, lq_tf: o.lq, emp_tl: o.employment,
                est_tl: o.establishments});
});
calc.end(function () {
  var out = ['industry,region,qualifying,significant,strong,strong10'];
  rows.forEach(function (o) {
    var c = store['cluster/county/' + o.region + '/' + o.industry + '/2020'];
    out.push([o.industry, o.region, c.qualifying_b, c.significant_b, c.strong_b, c.strong10_b].join(','));
  });
  fs.writeFileSync('cmp_flags.csv', out.join('\n') + '\n');
});
