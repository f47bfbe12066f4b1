"""The cost model as a workbook a finance person can own (XlsxWriter).

Sheets:

- **Inputs**: every assumption in its own cell, with unit and source/note,
  data validation and a defined name (``peak_requests_per_s``, ``gen1_servers``...).
- **Measurements**: the per-operation costs taken from the results files
  (seconds per operation at each measured size), with machine, date and file.
- **Model**: every derived number as a live formula over Inputs and
  Measurements — record sizes, interpolation, seconds per request, cores,
  servers, dollars, comparisons. No constant is hidden inside a formula except
  the definitions themselves (8,760 hours a year, 1,000 W per kW, 365 days,
  12 months), which are labelled.
- **Summary**: one block per scenario, and a chart of crypto cost per scenario.
- **Sensitivity**: each key input at -20% and +20% as formula rows, with a
  tornado chart.

Every formula cell also carries the value the Python model computed, so the
file shows numbers before any recalculation; a test recalculates the file
with LibreOffice and checks each output against the Python model.
"""

from __future__ import annotations

from typing import Any

from .cost import (SENSITIVITY_INPUTS, SENSITIVITY_STEP, MeasuredCosts, ModelResult, interpolate, record_plan,
                   sensitivity_held)
from .fleet import (MAX_DEMAND_GROWTH_PER_YEAR, MIN_AMORTIZATION_YEARS, MIN_CORES_PER_SERVER,
                    MIN_DEMAND_GROWTH_PER_YEAR, MIN_SERVERS, MIN_SPEED_FACTOR, MIN_TARGET_CPU_UTILIZATION, SIGNATURE,
                    STEP_BOUND_SLACK, STEP_BOUNDS, Fleet)

ECON_ROWS = [
    ("electricity_usd_per_kwh", "USD/kWh"),
    ("pue", "ratio"),
    ("discount_rate_per_year", "fraction/year"),
    ("demand_growth_per_year", "fraction/year"),
    ("target_cpu_utilization", "fraction"),
    ("planning_horizon_years", "years"),
    ("engineer_month_usd", "USD"),
]
TRAFFIC_ROWS = [
    ("peak_requests_per_s", "requests/s"),
    ("average_requests_per_s", "requests/s"),
    ("full_handshake_share", "fraction of requests"),
    ("resumed_handshake_share", "fraction of requests"),
    ("reused_connection_share", "fraction of requests"),
    ("request_bytes", "bytes"),
    ("response_bytes", "bytes"),
    ("max_record_bytes", "bytes"),
]
GEN_COLS = [
    ("servers", "servers"),
    ("cores_per_server", "cores"),
    ("price_usd_per_server", "USD"),
    ("amortization_years", "years"),
    ("power_w", "W"),
    ("speed_factor", "ratio"),
]
_FRACTION = {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1}
_POSITIVE = {"validate": "decimal", "criteria": ">", "value": 0}
#: Data validation of the input cells: the ranges fleet.parse_fleet accepts (anything
#: not listed: a number >= 0).
_VALIDATION = {
    "pue": {"validate": "decimal", "criteria": ">=", "value": 1},
    "discount_rate_per_year": _FRACTION,
    # 0 (a flat fleet) or MIN_ .. MAX_DEMAND_GROWTH_PER_YEAR: a custom rule, "{cell}" filled in by _validate
    "demand_growth_per_year": {"validate": "custom",
                               "value": (f"=OR({{cell}}=0,AND({{cell}}>={MIN_DEMAND_GROWTH_PER_YEAR!r},"
                                         f"{{cell}}<={MAX_DEMAND_GROWTH_PER_YEAR!r}))")},
    "target_cpu_utilization": {"validate": "decimal", "criteria": "between", "minimum": MIN_TARGET_CPU_UTILIZATION,
                               "maximum": 1},
    "planning_horizon_years": {"validate": "integer", "criteria": "between", "minimum": 1, "maximum": 100},
    "peak_requests_per_s": _POSITIVE,
    "full_handshake_share": _FRACTION,
    "resumed_handshake_share": _FRACTION,
    "reused_connection_share": _FRACTION,
    "max_record_bytes": {"validate": "integer", "criteria": "between", "minimum": 1, "maximum": 16384},
    # the lower bounds of fleet.py's divisors
    "servers": {"validate": "decimal", "criteria": ">=", "value": MIN_SERVERS},
    "cores_per_server": {"validate": "decimal", "criteria": ">=", "value": MIN_CORES_PER_SERVER},
    "amortization_years": {"validate": "decimal", "criteria": ">=", "value": MIN_AMORTIZATION_YEARS},
    "speed_factor": {"validate": "decimal", "criteria": ">=", "value": MIN_SPEED_FACTOR},
}


def offered_backends(fleet: Fleet, measured: dict[str, MeasuredCosts]) -> dict[str, list[str]]:
    """The backends each scenario column of Inputs offers: those the Measurements sheet
    has for its algorithm in every measurement set (any other choice turned every figure
    that depends on it into #N/A)."""
    lenders = [measured[g.name] for g in fleet.generations if not g.estimate]
    return {alg: sorted(set.intersection(*({b for a, b, _ in list(m.series) + list(m.per_op) if a == alg}
                                          for m in lenders)))
            for alg in list(fleet.aeads) + [SIGNATURE]}


def _col(n: int) -> str:
    """0 -> A."""
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _abs(sheet: str, row: int, col: int) -> str:
    """Absolute reference; row and col are 0-based."""
    return f"'{sheet}'!${_col(col)}${row + 1}"


def mix_name(alg: str) -> str:
    return "mix_" + alg.replace("-", "_")


def export_xlsx(fleet: Fleet, measured: dict[str, MeasuredCosts], result: ModelResult,
                sens: dict[str, dict[str, tuple[float, float, float, float]]]) -> bytes:
    """The workbook as bytes (built in memory; the caller writes it atomically)."""
    import io

    import xlsxwriter

    buf = io.BytesIO()
    # text is text: a fleet file's comment (the notes column) or a results path starting with "=" was
    # written as a (broken) formula, one starting with "http://" as a link (over 2,079 characters
    # XlsxWriter warned on stderr and dropped it)
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    W = _Writer(wb, fleet, measured, result, sens)
    W.inputs()
    W.measurements()
    W.model()
    W.summary()
    W.sensitivity()
    wb.close()
    return buf.getvalue()


class _Writer:
    def __init__(self, wb, fleet: Fleet, measured: dict[str, MeasuredCosts], result: ModelResult, sens) -> None:
        self.wb, self.fleet, self.measured, self.result, self.sens = wb, fleet, measured, result, sens
        self.bold = wb.add_format({"bold": True})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        self.inp = wb.add_format({"bg_color": "#FFF2CC", "border": 1})
        self.inp_pct = wb.add_format({"bg_color": "#FFF2CC", "border": 1, "num_format": "0.00%"})
        self.num = wb.add_format({"num_format": "#,##0.00"})
        self.int = wb.add_format({"num_format": "#,##0"})
        self.sci = wb.add_format({"num_format": "0.000E+00"})
        self.pct = wb.add_format({"num_format": "0.000%"})
        self.usd = wb.add_format({"num_format": "$#,##0"})
        # the value a sensitivity step was held at (right-aligned, as is the text "—" for none)
        self.held_pct = wb.add_format({"num_format": "0.00%", "align": "right"})
        self.held_ratio = wb.add_format({"num_format": "0.00", "align": "right"})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.warn = wb.add_format({"bold": True, "font_color": "#C00000"})
        self.cell_of: dict[str, str] = {}  # model key -> absolute reference (for Summary/Sensitivity)

    def sheet(self, title: str):
        """A worksheet that prints landscape, one page wide."""
        ws = self.wb.add_worksheet(title)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        return ws

    def name(self, name: str, ref: str) -> str:
        self.wb.define_name(name, "=" + ref)
        return name

    # ------------------------------------------------------------ Inputs

    def inputs(self) -> None:
        f, ws = self.fleet, self.sheet("Inputs")
        ws.set_column(0, 0, 34)
        ws.set_column(1, 1, 18)
        ws.set_column(2, 2, 22)
        ws.set_column(3, 3, 70)
        ws.write(0, 0, "cryptobench cost model: inputs (yellow cells are assumptions you can change)", self.title)
        ws.write(1, 0, f"Fleet file: {f.source}")
        row = 3
        for header, items, obj in (("Economics", ECON_ROWS, f.economics), ("Traffic", TRAFFIC_ROWS, f.traffic)):
            ws.write_row(row, 0, [header, "value", "unit", "source / note"], self.head)
            row += 1
            for key, unit in items:
                val = getattr(obj, key)
                ws.write_number(row, 1, val, self.inp)
                ws.write(row, 0, key)
                ws.write(row, 2, unit)
                ws.write(row, 3, f.notes.get(key, ""), self.wrap)
                self._validate(ws, row, 1, key)
                self.name(key, _abs("Inputs", row, 1))
                row += 1
            row += 1
        ws.write_row(row, 0, ["Cipher-suite mix", "share", "unit", "source / note"], self.head)
        row += 1
        mix_first = row
        for alg in f.aeads:
            ws.write(row, 0, alg)
            ws.write_number(row, 1, f.traffic.cipher_mix[alg], self.inp)
            ws.write(row, 2, "fraction of requests")
            ws.write(row, 3, f.notes.get(alg, ""), self.wrap)
            ws.data_validation(row, 1, row, 1, _FRACTION)
            self.name(mix_name(alg), _abs("Inputs", row, 1))
            row += 1
        ws.write(row, 0, "check: mix sums to 1", self.bold)
        ws.write_formula(row, 1, f"=SUM(B{mix_first + 1}:B{row})", None, sum(f.traffic.cipher_mix.values()))
        row += 1
        ws.write(row, 0, "check: connection shares sum to 1", self.bold)
        t = f.traffic
        ws.write_formula(row, 1, "=full_handshake_share+resumed_handshake_share+reused_connection_share", None,
                         t.full_handshake_share + t.resumed_handshake_share + t.reused_connection_share)
        row += 2
        ws.write_row(row, 0, ["Handshake cost from", "operation", "", "source / note"], self.head)
        row += 1
        for key in ("signature_operation", "fixed_base_operation", "variable_base_operation"):
            ws.write(row, 0, key)
            ws.write_string(row, 1, getattr(f.handshake, key), self.inp)
            ws.write(row, 3, f.notes.get(key, ""), self.wrap)
            ws.data_validation(row, 1, row, 1, {"validate": "list", "source": ["sign", "verify", "keygen"]})
            self.name(key, _abs("Inputs", row, 1))
            row += 1
        row += 1
        ws.write_row(row, 0, ["Hardware generation"] + [c for c, _ in GEN_COLS] + ["measurements"], self.head)
        ws.write_row(row + 1, 0, ["(unit)"] + [u for _, u in GEN_COLS] + [""])
        row += 2
        ws.set_column(4, 8, 16)
        for i, g in enumerate(f.generations, 1):
            ws.write(row, 0, g.name)
            for j, (key, _) in enumerate(GEN_COLS, 1):
                ws.write_number(row, j, getattr(g, key), self.inp)
                self._validate(ws, row, j, key)
                self.name(f"gen{i}_{key}", _abs("Inputs", row, j))
            src = (f"ESTIMATE: borrows {g.borrow_results_from}'s measurements, times divided by speed_factor"
                   if g.estimate else f"measured: {self.measured[g.name].source_file}")
            ws.write(row, len(GEN_COLS) + 1, src, self.warn if g.estimate else None)
            row += 1
        row += 1
        ws.write_row(row, 0, ["Scenario", "engineer_months"] + list(f.aeads) + [SIGNATURE], self.head)
        ws.write(row - 1, 0, "Scenarios: which backend serves each algorithm (the first is the baseline)", self.bold)
        row += 1
        offered = offered_backends(f, self.measured)
        self.scenario_cells: dict[tuple[int, str], str] = {}
        for s_i, sc in enumerate(f.scenarios, 1):
            ws.write(row, 0, sc.name)
            ws.write_number(row, 1, sc.engineer_months, self.inp)
            ws.data_validation(row, 1, row, 1, {"validate": "decimal", "criteria": ">=", "value": 0})  # as the fleet file
            self.name(f"scen{s_i}_engineer_months", _abs("Inputs", row, 1))
            for j, alg in enumerate(list(f.aeads) + [SIGNATURE], 2):
                ws.write_string(row, j, sc.implementations[alg], self.inp)
                if offered[alg]:
                    ws.data_validation(row, j, row, j, {"validate": "list", "source": offered[alg][:40]})
                self.scenario_cells[(s_i, alg)] = _abs("Inputs", row, j)
            row += 1
        row += 1
        ws.write(row, 0, "Definitions used in formulas: 8,760 hours per year; 1,000 W per kW; 365 days per year; 12 months per year.")

    def _validate(self, ws, row: int, col: int, key: str) -> None:
        """The range the fleet file allows for ``key`` (fleet.parse_fleet), as data validation."""
        rule = dict(_VALIDATION.get(key, {"validate": "decimal", "criteria": ">=", "value": 0}))
        if rule["validate"] == "custom":
            rule["value"] = rule["value"].replace("{cell}", f"{_col(col)}{row + 1}")
        ws.data_validation(row, col, row, col, rule)

    # ------------------------------------------------------------ Measurements

    def measurements(self) -> None:
        ws = self.sheet("Measurements")
        ws.write(0, 0, "Per-operation costs from the results files (seconds per operation, median of the run). "
                       "Data, not assumptions: rerun `cryptobench cost` to refresh.", self.bold)
        ws.set_column(0, 0, 52)
        ws.set_column(1, 8, 14)
        ws.set_column(5, 7, 26)
        header = ["key", "measurement set", "algorithm", "backend", "operation", "machine", "date", "file", "s per op"]
        row = 2
        self.blocks: dict[str, dict[str, Any]] = {}
        lenders = [g for g in self.fleet.generations if not g.estimate]
        last_row = 2
        max_cols = 9
        for g in lenders:
            mc = self.measured[g.name]
            sizes = sorted({s for ser in mc.series.values() for s in ser.sizes})
            for key, ser in mc.series.items():
                if tuple(ser.sizes) != tuple(sizes):
                    from .fleet import FleetError

                    raise FleetError(f"{self.fleet.source}: generations[{g.name}].results: {mc.source_file} measured "
                                     f"{'/'.join(key)} at sizes {ser.sizes}, others at {tuple(sizes)}; the workbook needs one size set")
            ws.write(row, 0, f"Measurement set {g.name}: {mc.source_file}", self.bold)
            row += 1
            ws.write_row(row, 0, header, self.head)
            for j, s in enumerate(sizes):
                ws.write_number(row, 9 + j, s, self.head)
            max_cols = max(max_cols, 9 + len(sizes))
            hdr_row = row
            row += 1
            rows: dict[tuple[str, str, str], int] = {}
            for (alg, backend, op), ser in sorted(mc.series.items()):
                ws.write_row(row, 0, [f"{g.name}|{alg}|{backend}|{op}", g.name, alg, backend, op, mc.machine, mc.date, mc.source_file])
                for j, v in enumerate(ser.seconds):
                    ws.write_number(row, 9 + j, v, self.sci)
                rows[(alg, backend, op)] = row
                row += 1
            for (alg, backend, op), v in sorted(mc.per_op.items()):
                ws.write_row(row, 0, [f"{g.name}|{alg}|{backend}|{op}", g.name, alg, backend, op, mc.machine, mc.date, mc.source_file])
                ws.write_number(row, 8, v, self.sci)
                rows[(alg, backend, op)] = row
                row += 1
            self.blocks[g.name] = {"sizes": sizes, "header_row": hdr_row, "rows": rows}
            row += 1
            last_row = row
        self.meas_last_row = last_row
        self.meas_last_col = max_cols - 1
        ws.write(row + 1, 0, "Sizes in the header rows are bytes; each cell is seconds per operation at that size "
                            "(AEAD operations with a 13-byte AAD).")

    # ------------------------------------------------------------ Model

    def model(self) -> None:
        f = self.fleet
        ws = self.sheet("Model")
        ws.set_column(0, 0, 24)
        ws.set_column(1, 20, 15)
        ws.write(0, 0, "Model: every number here is a formula over Inputs and Measurements", self.title)
        ws.write(1, 0, "Record time = bytes x time-per-byte interpolated linearly between measured sizes "
                       "(clamped to the nearest measured size outside the range: an extrapolation, flagged in the terminal). "
                       "Generation speed_factor divides measured times.")
        key_col = f"'Measurements'!$A$1:$A${self.meas_last_row + 1}"
        per_op_col = f"'Measurements'!$I$1:$I${self.meas_last_row + 1}"
        row = 3
        hdr = ["scenario", "generation", "algorithm", "backend", "operation", "part", "record bytes", "records/request",
               "meas. row", "clamped bytes", "index", "size lo", "size hi", "s/B lo", "s/B hi", "s per record",
               "speed factor", "mix share", "s/request"]
        ws.write(row - 1, 0, "A. AEAD records per request", self.bold)
        ws.write_row(row, 0, hdr, self.head)
        row += 1
        first_rec = row
        for s_i, sc in enumerate(f.scenarios, 1):
            for g_i, g in enumerate(f.generations, 1):
                set_name = g.borrow_results_from or g.name
                blk = self.blocks[set_name]
                sizes = blk["sizes"]
                h = blk["header_row"]
                S = f"'Measurements'!$J${h + 1}:${_col(9 + len(sizes) - 1)}${h + 1}"
                V = f"'Measurements'!$J$1:${_col(9 + len(sizes) - 1)}${self.meas_last_row + 1}"
                for alg in f.aeads:
                    backend = sc.implementations[alg]
                    for op, bytes_name in (("decrypt", "request_bytes"), ("encrypt", "response_bytes")):
                        nbytes = getattr(f.traffic, bytes_name)
                        plan = record_plan(nbytes, f.traffic.max_record_bytes)
                        ser = self.measured[g.name].series[(alg, backend, op)]
                        for part, (size, count) in zip(("full", "remainder"), plan):
                            r1 = row + 1
                            ws.write(row, 0, sc.name)
                            ws.write(row, 1, g.name)
                            ws.write(row, 2, alg)
                            ws.write_formula(row, 3, f"={self.scenario_cells[(s_i, alg)]}", None, backend)
                            ws.write(row, 4, op)
                            ws.write(row, 5, part)
                            if part == "full":
                                ws.write_formula(row, 6, "=max_record_bytes", None, size)
                                ws.write_formula(row, 7, f"=INT({bytes_name}/max_record_bytes)", None, count)
                            else:
                                ws.write_formula(row, 6, f"={bytes_name}-INT({bytes_name}/max_record_bytes)*max_record_bytes", None, size)
                                ws.write_formula(row, 7, f"=IF(G{r1}>0,1,0)", None, count)
                            mrow = blk["rows"][(alg, backend, op)] + 1
                            ws.write_formula(row, 8, f'=MATCH("{set_name}|"&C{r1}&"|"&D{r1}&"|"&E{r1},{key_col},0)', None, mrow)
                            clamped = min(max(size, sizes[0]), sizes[-1])
                            i = max(j for j, s in enumerate(sizes) if s <= clamped)
                            lo, hi = sizes[i], sizes[min(i + 1, len(sizes) - 1)]
                            tlo = ser.seconds[i] / lo
                            thi = ser.seconds[min(i + 1, len(sizes) - 1)] / hi
                            per_rec = interpolate(ser, size)[0] if count else 0.0
                            ws.write_formula(row, 9, f"=MIN(MAX(G{r1},MIN({S})),MAX({S}))", None, clamped)
                            ws.write_formula(row, 10, f"=MATCH(J{r1},{S},1)", None, i + 1)
                            ws.write_formula(row, 11, f"=INDEX({S},1,K{r1})", None, lo)
                            ws.write_formula(row, 12, f"=IF(K{r1}<COUNT({S}),INDEX({S},1,K{r1}+1),L{r1})", None, hi)
                            ws.write_formula(row, 13, f"=INDEX({V},I{r1},K{r1})/L{r1}", self.sci, tlo)
                            ws.write_formula(row, 14, f"=IF(K{r1}<COUNT({S}),INDEX({V},I{r1},K{r1}+1)/M{r1},N{r1})", self.sci, thi)
                            ws.write_formula(row, 15, f"=IF(OR(H{r1}=0,G{r1}<=0),0,G{r1}*IF(L{r1}=J{r1},N{r1},N{r1}+(O{r1}-N{r1})*(J{r1}-L{r1})/(M{r1}-L{r1})))", self.sci, per_rec)
                            ws.write_formula(row, 16, f"=gen{g_i}_speed_factor", None, g.speed_factor)
                            share = f.traffic.cipher_mix.get(alg, 0.0)
                            ws.write_formula(row, 17, f"={mix_name(alg)}", None, share)
                            ws.write_formula(row, 18, f"=R{r1}*H{r1}*P{r1}/Q{r1}", self.sci, share * count * per_rec / g.speed_factor)
                            row += 1
        last_rec = row - 1
        rec_rng = lambda c: f"${c}${first_rec + 1}:${c}${last_rec + 1}"  # noqa: E731

        # B. handshakes
        row += 1
        ws.write(row, 0, "B. Handshake cost per request", self.bold)
        row += 1
        ws.write_row(row, 0, ["scenario", "generation", "backend", "signature s", "fixed-base s", "variable-base s",
                              "speed factor", "handshake s/request"], self.head)
        row += 1
        hs_rows: dict[tuple[int, int], int] = {}
        for s_i, sc in enumerate(f.scenarios, 1):
            for g_i, g in enumerate(f.generations, 1):
                set_name = g.borrow_results_from or g.name
                r1 = row + 1
                backend = sc.implementations[SIGNATURE]
                rc = self.result.scenarios[s_i - 1].generations[g_i - 1].request
                ws.write(row, 0, sc.name)
                ws.write(row, 1, g.name)
                ws.write_formula(row, 2, f"={self.scenario_cells[(s_i, SIGNATURE)]}", None, backend)
                mc = self.measured[g.name]
                for col, opname, attr in ((3, "signature_operation", "signature_operation"),
                                          (4, "fixed_base_operation", "fixed_base_operation"),
                                          (5, "variable_base_operation", "variable_base_operation")):
                    op = getattr(f.handshake, attr)
                    ws.write_formula(row, col, f'=INDEX({per_op_col},MATCH("{set_name}|{SIGNATURE}|"&C{r1}&"|"&{opname},{key_col},0),1)',
                                     self.sci, mc.per_op[(SIGNATURE, backend, op)])
                ws.write_formula(row, 6, f"=gen{g_i}_speed_factor", None, g.speed_factor)
                ws.write_formula(row, 7, f"=(full_handshake_share*(D{r1}+E{r1}+F{r1})+resumed_handshake_share*(E{r1}+F{r1}))/G{r1}",
                                 self.sci, rc.handshake_s)
                hs_rows[(s_i, g_i)] = row
                row += 1

        # C. per scenario and generation
        row += 1
        ws.write(row, 0, "C. Crypto capacity per scenario and generation (peak)", self.bold)
        row += 1
        ws.write_row(row, 0, ["scenario", "generation", "AEAD s/request", "handshake s/request", "crypto s/request",
                              "capacity share", "cores busy", "servers for crypto", "USD/server/year", "crypto USD/year",
                              "estimate?"], self.head)
        row += 1
        total_cores_expr = "+".join(f"gen{i}_servers*gen{i}_cores_per_server" for i in range(1, len(f.generations) + 1))
        self.c_rows: dict[tuple[int, int], int] = {}
        for s_i, sc in enumerate(f.scenarios, 1):
            sres = self.result.scenarios[s_i - 1]
            for g_i, g in enumerate(f.generations, 1):
                gr = sres.generations[g_i - 1]
                r1 = row + 1
                ws.write(row, 0, sc.name)
                ws.write(row, 1, g.name)
                ws.write_formula(row, 2, f'=SUMIFS({rec_rng("S")},{rec_rng("A")},"="&A{r1},{rec_rng("B")},"="&B{r1})', self.sci,
                                 sum(gr.request.aead_s.values()))
                ws.write_formula(row, 3, f"=H{hs_rows[(s_i, g_i)] + 1}", self.sci, gr.request.handshake_s)
                ws.write_formula(row, 4, f"=C{r1}+D{r1}", self.sci, gr.crypto_seconds_per_request_s)
                ws.write_formula(row, 5, f"=gen{g_i}_servers*gen{g_i}_cores_per_server/({total_cores_expr})", self.pct, gr.capacity_share)
                ws.write_formula(row, 6, f"=peak_requests_per_s*F{r1}*E{r1}", self.num, gr.cores_busy_cores)
                ws.write_formula(row, 7, f"=G{r1}/(gen{g_i}_cores_per_server*target_cpu_utilization)", self.num, gr.servers_for_crypto_servers)
                ws.write_formula(row, 8, f"=gen{g_i}_price_usd_per_server/gen{g_i}_amortization_years+gen{g_i}_power_w*8760*electricity_usd_per_kwh*pue/1000",
                                 self.usd, gr.annual_cost_per_server_usd)
                ws.write_formula(row, 9, f"=H{r1}*I{r1}", self.usd, gr.crypto_cost_usd_per_year)
                ws.write(row, 10, "ESTIMATE" if g.estimate else "measured", self.warn if g.estimate else None)
                self.c_rows[(s_i, g_i)] = row
                self.cell_of[f"C|{s_i}|{g_i}|crypto_s"] = _abs("Model", row, 4)
                row += 1
        # totals per scenario
        row += 1
        ws.write_row(row, 0, ["scenario", "", "", "", "", "", "cores busy", "servers for crypto", "", "crypto USD/year"], self.head)
        row += 1
        self.total_rows: dict[int, int] = {}
        for s_i, sc in enumerate(f.scenarios, 1):
            sres = self.result.scenarios[s_i - 1]
            rows = [self.c_rows[(s_i, g_i)] + 1 for g_i in range(1, len(f.generations) + 1)]
            ws.write(row, 0, sc.name)
            ws.write_formula(row, 6, "=" + "+".join(f"G{r}" for r in rows), self.num, sres.cores_busy_cores)
            ws.write_formula(row, 7, "=" + "+".join(f"H{r}" for r in rows), self.num, sres.servers_for_crypto_servers)
            ws.write_formula(row, 9, "=" + "+".join(f"J{r}" for r in rows), self.usd, sres.crypto_cost_usd_per_year)
            self.total_rows[s_i] = row
            self.cell_of[f"total|{s_i}|cost"] = _abs("Model", row, 9)
            self.cell_of[f"total|{s_i}|cores"] = _abs("Model", row, 6)
            self.cell_of[f"total|{s_i}|servers"] = _abs("Model", row, 7)
            row += 1

        # D. comparisons
        row += 1
        ws.write(row, 0, f"D. Each scenario against the baseline ({f.scenarios[0].name}); positive = saved", self.bold)
        row += 1
        cols = ["scenario", "cores saved", "servers saved", "USD/year saved", "fleet cores in use at peak",
                "share of fleet saved (s)", "purchase deferral (days)", "NPV of saving (USD)", "engineer cost (USD)",
                "simple payback (months, first-year saving)", "NPV net of the work (USD)"]
        ws.write_row(row, 0, cols, self.head)
        row += 1
        ws.write(row - 2, 6, "NPV: year t's saving = first-year saving x (1+growth)^(t-1), received at the END of year t, "
                             "discounted by (1+rate)^t, t = 1..horizon.")
        base_rows = self.total_rows[1] + 1
        for s_i, sc in enumerate(f.scenarios[1:], 2):
            cmp = self.result.comparisons[s_i - 2]
            r1 = row + 1
            tr = self.total_rows[s_i] + 1
            ws.write(row, 0, sc.name)
            ws.write_formula(row, 1, f"=G{base_rows}-G{tr}", self.num, cmp.cores_saved_cores)
            ws.write_formula(row, 2, f"=H{base_rows}-H{tr}", self.num, cmp.servers_saved_servers)
            ws.write_formula(row, 3, f"=J{base_rows}-J{tr}", self.usd, cmp.usd_saved_per_year)
            ws.write_formula(row, 4, f"=({total_cores_expr})*target_cpu_utilization", self.num, cmp.fleet_cores_in_use_at_peak_cores)
            ws.write_formula(row, 5, f"=B{r1}/E{r1}", self.pct, cmp.fleet_share_saved_fraction)
            d = cmp.purchase_deferral_days
            # n/a when s >= 1, or when LN(1+g) is 0: g = 0 (a flat fleet), or g so small that 1 + g
            # rounds to 1 (MAX: a negative g typed here is no growth either, not LN's #NUM!);
            # cost.deferral_days tests the same, so the two agree for any g typed here
            ws.write_formula(row, 6, f'=IF(AND(F{r1}<1,LN(1+MAX(demand_growth_per_year,0))>0),'
                                     f'LN(1/(1-F{r1}))/LN(1+demand_growth_per_year)*365,"n/a")', self.num,
                             d if d is not None else "n/a")
            q = "(1+demand_growth_per_year)/(1+discount_rate_per_year)"
            ws.write_formula(row, 7, f"=IF({q}=1,D{r1}*planning_horizon_years/(1+discount_rate_per_year),"
                                     f"D{r1}/(1+discount_rate_per_year)*(1-({q})^planning_horizon_years)/(1-{q}))",
                             self.usd, cmp.npv_usd)
            ws.write_formula(row, 8, f"=scen{s_i}_engineer_months*engineer_month_usd", self.usd, cmp.engineer_cost_usd)
            pb = cmp.payback_months
            ws.write_formula(row, 9, f'=IF(D{r1}>0,I{r1}/D{r1}*12,"n/a")', self.num, pb if pb is not None else "n/a")
            ws.write_formula(row, 10, f"=H{r1}-I{r1}", self.usd, cmp.npv_net_of_work_usd)
            for c, key in enumerate(["scenario", "cores_saved", "servers_saved", "usd_saved", "fleet_in_use", "s",
                                     "deferral_days", "npv", "engineer_cost", "payback_months", "npv_net"]):
                self.cell_of[f"D|{s_i}|{key}"] = _abs("Model", row, c)
            row += 1
        self.hs_rows = hs_rows

    # ------------------------------------------------------------ Summary

    def summary(self) -> None:
        f, ws = self.fleet, self.sheet("Summary")
        ws.set_column(0, 0, 50)
        ws.set_column(1, 3, 20)
        ws.write(0, 0, "Summary: each scenario against the baseline (positive = saved, negative = costs more)", self.title)
        row = 2
        labels = [("cores_saved", "cores saved at peak", "cores", self.num),
                  ("servers_saved", "servers saved", "servers", self.num),
                  ("usd_saved", "saved per year", "USD/year", self.usd),
                  ("s", "share of fleet saved (cores saved / cores in use)", "fraction", self.pct),
                  ("deferral_days", "hardware purchases deferred by", "days", self.num),
                  ("npv", "net present value of the saving", "USD", self.usd),
                  ("engineer_cost", "cost of the work", "USD", self.usd),
                  ("npv_net", "net present value less the cost of the work", "USD", self.usd),
                  ("payback_months", "simple payback (first-year saving)", "months", self.num)]
        for s_i, sc in enumerate(f.scenarios[1:], 2):
            cmp = self.result.comparisons[s_i - 2]
            ws.write(row, 0, f"{sc.name} vs {f.scenarios[0].name}", self.head)
            ws.write_row(row, 1, ["value", "unit"], self.head)
            row += 1
            for key, label, unit, fmt in labels:
                val = {"cores_saved": cmp.cores_saved_cores, "servers_saved": cmp.servers_saved_servers,
                       "usd_saved": cmp.usd_saved_per_year, "s": cmp.fleet_share_saved_fraction,
                       "deferral_days": cmp.purchase_deferral_days, "npv": cmp.npv_usd,
                       "engineer_cost": cmp.engineer_cost_usd, "npv_net": cmp.npv_net_of_work_usd,
                       "payback_months": cmp.payback_months}[key]
                ws.write(row, 0, label)
                ws.write_formula(row, 1, "=" + self.cell_of[f"D|{s_i}|{key}"], fmt, val if val is not None else "n/a")
                ws.write(row, 2, unit)
                row += 1
            ws.write(row, 0, "As exported (text, not recalculated): " + cmp.sentence(), self.wrap)
            if cmp.estimate:
                ws.write(row + 1, 0, "ESTIMATE: includes generations priced from borrowed measurements.", self.warn)
                row += 1
            row += 2
        # chart: crypto cost per scenario
        row += 1
        ws.write_row(row, 0, ["scenario", "crypto USD/year (all generations)"], self.head)
        first = row + 1
        for s_i, sc in enumerate(f.scenarios, 1):
            row += 1
            ws.write(row, 0, sc.name)
            ws.write_formula(row, 1, "=" + self.cell_of[f"total|{s_i}|cost"], self.usd,
                             self.result.scenarios[s_i - 1].crypto_cost_usd_per_year)
        chart = self.wb.add_chart({"type": "column"})
        chart.add_series({"name": "crypto cost (USD/year)", "categories": ["Summary", first, 0, row, 0],
                          "values": ["Summary", first, 1, row, 1]})
        chart.set_title({"name": "Annual cost of the crypto capacity per scenario"})
        chart.set_y_axis({"name": "USD/year", "log_base": 10})
        chart.set_legend({"none": True})
        ws.insert_chart(row + 2, 0, chart, {"x_scale": 1.4, "y_scale": 1.2})

    # ------------------------------------------------------------ Sensitivity

    #: The helper columns of a scenario's saving factors on Sensitivity (K onwards)
    _FACTOR_COL = 10
    _FACTOR_HEADS = ("generation", "a: servers / fleet cores", "k0: AEAD s/request saved",
                     "k1: handshake s saved per full-handshake share", "k2: handshake s saved per resumed share",
                     "P: price / amortization (USD/server/year)", "W: power use (kWh/server/year)")

    def _saving_factors(self, ws, s_i: int, top: int) -> dict[str, str]:
        """Scenario s_i's annual saving, factored so that a sensitivity row's formula does
        not grow with the generations (Excel refuses formulas over 8,192 characters, and
        restated per generation they passed it at ten):

            saving = peak / utilization * (price_mult * (A0 + full * A1 + resumed * A2)
                     + power_mult * electricity * pue * (B0 + full * B1 + resumed * B2))

        with Ai = sum over generations of a * ki * P and Bi of a * ki * W (the columns
        written here from row ``top``). Returns the six sums' absolute references."""
        f = self.fleet
        c0 = self._FACTOR_COL
        ws.write_row(top, c0, self._FACTOR_HEADS, self.head)
        rows = self._factor_values(s_i)  # each generation's (a, k0, k1, k2, P, W), the cells' stored values
        total_expr = "+".join(f"gen{i}_servers*gen{i}_cores_per_server" for i in range(1, len(f.generations) + 1))
        first = top + 1
        for g_i, (g, values) in enumerate(zip(f.generations, rows), 1):
            row = top + g_i
            cb, cs = self.c_rows[(1, g_i)] + 1, self.c_rows[(s_i, g_i)] + 1
            hb, hs = self.hs_rows[(1, g_i)] + 1, self.hs_rows[(s_i, g_i)] + 1
            formulas = (f"=gen{g_i}_servers/({total_expr})",
                        f"=Model!C{cb}-Model!C{cs}",
                        f"=(Model!D{hb}+Model!E{hb}+Model!F{hb})/Model!G{hb}-(Model!D{hs}+Model!E{hs}+Model!F{hs})/Model!G{hs}",
                        f"=(Model!E{hb}+Model!F{hb})/Model!G{hb}-(Model!E{hs}+Model!F{hs})/Model!G{hs}",
                        f"=gen{g_i}_price_usd_per_server/gen{g_i}_amortization_years",
                        f"=gen{g_i}_power_w*8760/1000")
            ws.write(row, c0, g.name)
            for j, (formula, value) in enumerate(zip(formulas, values), 1):
                ws.write_formula(row, c0 + j, formula, self.num if j >= 5 else self.sci, value)
        last = top + len(f.generations)
        rng = lambda c: f"${_col(c0 + c)}${first + 1}:${_col(c0 + c)}${last + 1}"  # noqa: E731
        sums_row = last + 1
        ws.write(sums_row, c0, "sums (A: of a*k*P, B: of a*k*W)", self.head)
        refs = {}
        for j, (name, k, pw) in enumerate((("A0", 2, 5), ("A1", 3, 5), ("A2", 4, 5),
                                           ("B0", 2, 6), ("B1", 3, 6), ("B2", 4, 6))):
            col = c0 + 1 + j
            ws.write(sums_row, col, name, self.head)
            ws.write_formula(sums_row + 1, col, f"=SUMPRODUCT({rng(1)},{rng(k)},{rng(pw)})", self.sci,
                             sum(v[0] * v[k - 1] * v[pw - 1] for v in rows))
            refs[name] = _abs("Sensitivity", sums_row + 1, col)
        return refs

    def _factor_values(self, s_i: int) -> list[tuple[float, float, float, float, float, float]]:
        """Per generation, the Python values of _saving_factors' columns: a (servers over the
        fleet's cores), k0..k2 (seconds saved per request: AEAD, per unit of full and of
        resumed handshake share), P (price over amortization), W (kWh a year)."""
        f = self.fleet
        base, this = self.result.scenarios[0], self.result.scenarios[s_i - 1]
        total = sum(g.servers * g.cores_per_server for g in f.generations)
        out = []
        for g, gb, gs in zip(f.generations, base.generations, this.generations):
            rb, rs = gb.request, gs.request
            out.append((g.servers / total,
                        sum(rb.aead_s.values()) - sum(rs.aead_s.values()),
                        (rb.signature_s + rb.fixed_base_s + rb.variable_base_s)
                        - (rs.signature_s + rs.fixed_base_s + rs.variable_base_s),
                        (rb.fixed_base_s + rb.variable_base_s) - (rs.fixed_base_s + rs.variable_base_s),
                        g.price_usd_per_server / g.amortization_years,
                        g.power_w * 8760 / 1000))
        return out

    def _saving_formula(self, s_i: int, over: dict[str, str]) -> str:
        """Annual saving of scenario s_i vs baseline as one formula over _saving_factors'
        sums, with named inputs optionally replaced by expressions (e.g. peak*(1-20%))."""
        def n(name: str) -> str:
            return over.get(name, name)

        a, full, res = self.factor_refs[s_i], n("full_handshake_share"), n("resumed_handshake_share")
        return (f"{n('peak_requests_per_s')}/{n('target_cpu_utilization')}*("
                f"{n('price_mult')}*({a['A0']}+{full}*{a['A1']}+{res}*{a['A2']})"
                f"+{n('power_mult')}*{n('electricity_usd_per_kwh')}*{n('pue')}"
                f"*({a['B0']}+{full}*{a['B1']}+{res}*{a['B2']}))")

    def _npv_formula(self, saving: str, over: dict[str, str]) -> str:
        g = over.get("demand_growth_per_year", "demand_growth_per_year")
        r = over.get("discount_rate_per_year", "discount_rate_per_year")
        q = f"((1+{g})/(1+{r}))"
        return (f"IF({q}=1,({saving})*planning_horizon_years/(1+{r}),"
                f"({saving})/(1+{r})*(1-{q}^planning_horizon_years)/(1-{q}))")

    def sensitivity(self) -> None:
        f, ws = self.fleet, self.sheet("Sensitivity")
        ws.set_column(0, 0, 40)
        ws.set_column(1, 8, 18)
        ws.write(0, 0, "Sensitivity: each key input at -step and +step (the step is B2, an input), "
                       "everything else as on Inputs (formula rows over each scenario's factor sums, columns K-Q)",
                 self.title)
        ws.write(1, 0, "step", self.bold)
        ws.write_number(1, 1, SENSITIVITY_STEP, self.inp_pct)
        # a step of 100% or more would make traffic, prices and power zero or negative
        ws.data_validation(1, 1, 1, 1, {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 0.99})
        ws.write(1, 2, "inputs a step would take outside their valid range are held at the bound (columns H and I)")
        step = "'Sensitivity'!$B$2"
        self.name("sensitivity_step", step)
        self.factor_refs: dict[int, dict[str, str]] = {}
        ws.set_column(self._FACTOR_COL, self._FACTOR_COL + 6, 20)
        row = 3
        for s_i, sc in enumerate(f.scenarios[1:], 2):
            data = self.sens.get(sc.name, {})
            cmp = self.result.comparisons[s_i - 2]
            ws.write(row, 0, f"{sc.name} vs {f.scenarios[0].name}", self.bold)
            row += 1
            head = row
            ws.write_row(row, 0, ["input", "USD/year saved at -step", "USD/year saved at +step",
                                  "NPV of saving at -step", "NPV of saving at +step", "Δ saving at -step",
                                  "Δ saving at +step", "-step held at", "+step held at"], self.head)
            row += 1
            base_ref = self.cell_of[f"D|{s_i}|usd_saved"]
            self.factor_refs[s_i] = self._saving_factors(ws, s_i, head)
            first = row
            for key in SENSITIVITY_INPUTS:
                name = key.split(".", 1)[1]
                lo, hi, npv_lo, npv_hi = data[key]
                ws.write(row, 0, name + (" (every generation)" if key.startswith("generations.") else ""))
                for col, sign, val, npv_val in ((1, "-", lo, npv_lo), (2, "+", hi, npv_hi)):
                    over = self._override(key, f"(1{sign}sensitivity_step)")
                    saving = self._saving_formula(s_i, over)
                    ws.write_formula(row, col, "=" + saving, self.usd, val)
                    ws.write_formula(row, col + 2, "=" + self._npv_formula(f"{_col(col)}{row + 1}", over), self.usd, npv_val)
                ws.write_formula(row, 5, f"=B{row + 1}-{base_ref}", self.usd, lo - cmp.usd_saved_per_year)
                ws.write_formula(row, 6, f"=C{row + 1}-{base_ref}", self.usd, hi - cmp.usd_saved_per_year)
                held_fmt = self.held_ratio if key == "economics.pue" else self.held_pct
                for col, sign, held in zip((7, 8), "-+", sensitivity_held(f, key)):
                    formula = self._held_formula(key, f"(1{sign}sensitivity_step)")
                    if formula:
                        ws.write_formula(row, col, formula, held_fmt, _NOT_HELD if held is None else held)
                    else:  # no bound: never held
                        ws.write_string(row, col, _NOT_HELD, held_fmt)
                row += 1
            chart = self.wb.add_chart({"type": "bar"})
            # series named by the header cells, not "-20%": the step is an input cell
            chart.add_series({"name": ["Sensitivity", head, 5], "categories": ["Sensitivity", first, 0, row - 1, 0],
                              "values": ["Sensitivity", first, 5, row - 1, 5]})
            chart.add_series({"name": ["Sensitivity", head, 6], "categories": ["Sensitivity", first, 0, row - 1, 0],
                              "values": ["Sensitivity", first, 6, row - 1, 6], "overlap": 100})
            chart.set_title({"name": f"Tornado: change in annual saving, {sc.name} "
                                     "(growth and discount rate move only the NPV: columns D and E)"})
            chart.set_x_axis({"name": "USD/year vs base"})
            chart.set_y_axis({"reverse": True, "label_position": "low"})  # the names beside the bars, not on them
            ws.insert_chart(row + 1, 0, chart, {"x_scale": 1.5, "y_scale": 1.3})
            row = max(row + 22, head + len(f.generations) + 5)  # below the chart and the factor columns

    def _override(self, key: str, factor: str) -> dict[str, str]:
        name = key.split(".", 1)[1]
        if name == "price_usd_per_server":
            return {"price_mult": factor, "power_mult": "1"}
        if name == "power_w":
            return {"price_mult": "1", "power_mult": factor}
        value = f"{name}*{factor}"
        lo, hi = _bound_exprs(key)
        if lo:
            value = f"MAX({lo},{value})"
        if hi:
            value = f"MIN({hi},{value})"
        return {"price_mult": "1", "power_mult": "1", name: value}

    @staticmethod
    def _held_formula(key: str, factor: str) -> str | None:
        """The value a step held ``key`` at, or _NOT_HELD (None: ``key`` has no bound)."""
        lo, hi = _bound_exprs(key)
        if not (lo or hi):
            return None
        value = f"{key.split('.', 1)[1]}*{factor}"
        out = f'"{_NOT_HELD}"'
        if hi:
            out = f"IF({value}>{hi}*(1+{STEP_BOUND_SLACK!r}),{hi},{out})"
        if lo:
            out = f"IF({value}<{lo}*(1-{STEP_BOUND_SLACK!r}),{lo},{out})"
        return "=" + out


#: What the "held at" columns show for a step inside the input's range (not "": an
#: empty cached value would leave the cell blank until the workbook is recalculated).
_NOT_HELD = "—"


def _bound_exprs(key: str) -> tuple[str | None, str | None]:
    """fleet.STEP_BOUNDS of ``key`` as formula text over the defined names."""
    def expr(bound):
        if bound is None:
            return None
        const, minus = bound
        return f"({const!r}-{minus})" if minus else repr(const)

    lo, hi = STEP_BOUNDS.get(key, (None, None))
    return expr(lo), expr(hi)
